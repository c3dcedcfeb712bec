// render — `helm template` for one chart, for machines without a helm binary (helm is not in
// Debian and cannot be fetched here). Same engine as Helm 3: Go text/template with Sprig v3
// (Debian's golang-github-masterminds-sprig-dev) plus Helm's own functions (include, tpl,
// required, toYaml/fromYaml/toJson/fromJson/fromJsonArray, lookup answering nothing as in
// `helm template`), values coalesced as Helm does (maps merged, lists replaced, null deletes),
// .Capabilities from --kube-version and --api-versions. (values.schema.json is checked by
// tests/deploy with ajv-cli, not here.) Output is Helm's:
// "---\n# Source: <chart>/templates/<file>\n<document>" for every non-empty document, templates
// in file-name order (tests compare parsed documents, never the order).
//
//	render [--values FILE]... [--set a.b=c]... [--kube-version v1.30.0]
//	       [--api-versions group/version]... [--name RELEASE] [--namespace NS] CHART_DIR
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

type listFlag []string

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "render: "+format+"\n", args...)
	os.Exit(1)
}

func readYAML(path string) map[string]interface{} {
	data, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		fail("%s: %v", path, err)
	}
	return out
}

// coalesce merges src onto dst the way Helm merges user values onto chart defaults.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = coalesce(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

func setValue(values map[string]interface{}, assignment string) {
	eq := strings.Index(assignment, "=")
	if eq < 0 {
		fail("--set %q: expected key=value", assignment)
	}
	keys, raw := strings.Split(assignment[:eq], "."), assignment[eq+1:]
	var v interface{} = raw
	if b, err := strconv.ParseBool(raw); err == nil {
		v = b
	} else if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		v = float64(n)
	} else if raw == "null" {
		v = nil
	}
	m := values
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[k] = next
		}
		m = next
	}
	if v == nil {
		delete(m, keys[len(keys)-1])
	} else {
		m[keys[len(keys)-1]] = v
	}
}

type apiVersions []string

func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func main() {
	var valueFiles, sets, apis listFlag
	kubeVersion, release, namespace, chartDir := "v1.30.0", "release-name", "default", ""
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		next := func() string {
			if i+1 >= len(args) {
				fail("%s needs a value", args[i])
			}
			i++
			return args[i]
		}
		switch args[i] {
		case "--values", "-f":
			valueFiles = append(valueFiles, next())
		case "--set":
			sets = append(sets, next())
		case "--kube-version":
			kubeVersion = next()
		case "--api-versions":
			apis = append(apis, next())
		case "--name":
			release = next()
		case "--namespace", "-n":
			namespace = next()
		default:
			chartDir = args[i]
		}
	}
	if chartDir == "" {
		fail("usage: render [--values FILE]... [--set k=v]... CHART_DIR")
	}
	chart := readYAML(filepath.Join(chartDir, "Chart.yaml"))
	values := readYAML(filepath.Join(chartDir, "values.yaml"))
	for _, f := range valueFiles {
		values = coalesce(values, readYAML(f))
	}
	for _, s := range sets {
		setValue(values, s)
	}
	name := chart["name"].(string)
	builtin := apiVersions{"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2",
		"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1"}
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{"Name": release, "Namespace": namespace,
			"Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
		"Chart": map[string]interface{}{"Name": name, "Version": chart["version"],
			"AppVersion": chart["appVersion"]},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": kubeVersion,
				"GitVersion": kubeVersion},
			"APIVersions": append(builtin, apis...)},
	}

	root := template.New("gotpl").Option("missingkey=zero")
	includeDepth := 0
	funcs := sprig.TxtFuncMap()
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if includeDepth++; includeDepth > 1000 {
			return "", fmt.Errorf("include %s: too deep", name)
		}
		defer func() { includeDepth-- }()
		var out bytes.Buffer
		err := root.ExecuteTemplate(&out, name, data)
		return out.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		if t, err = t.New("tpl").Parse(text); err != nil {
			return "", err
		}
		var out bytes.Buffer
		err = t.Execute(&out, data)
		return strings.ReplaceAll(out.String(), "<no value>", ""), err
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["toJson"] = func(v interface{}) string {
		data, _ := json.Marshal(v)
		return string(data)
	}
	funcs["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["fromJsonArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			return []interface{}{err.Error()}
		}
		return a
	}
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	root.Funcs(funcs)

	dir := filepath.Join(chartDir, "templates")
	entries, err := os.ReadDir(dir)
	if err != nil {
		fail("%v", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		text, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			fail("%v", err)
		}
		tname := name + "/templates/" + e.Name()
		if _, err := root.New(tname).Parse(string(text)); err != nil {
			fail("%v", err)
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out bytes.Buffer
	for _, file := range names {
		if strings.HasPrefix(file, "_") || file == "NOTES.txt" {
			continue
		}
		tname := name + "/templates/" + file
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": tname,
			"BasePath": name + "/templates"}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, tname, data); err != nil {
			fail("%v", err)
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		for _, doc := range strings.Split("\n"+text, "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", tname, strings.Trim(doc, "\n"))
		}
	}
	os.Stdout.Write(out.Bytes())
}
