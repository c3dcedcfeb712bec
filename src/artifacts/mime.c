/* mime.c — the Content-Type of an artifact, guessed from its name the way
 * MLflow does (rest-api.md §8.2): its list of text extensions first, then
 * Python's standard extension table (mimetypes defaults, including the
 * compression suffix rules), else application/octet-stream. */
#include "repo.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Extensions (or whole extension-less names) MLflow serves as text/plain. */
static const char *const text_extensions[] = {
    "txt",  "log",   "err",  "cfg",  "conf", "cnf",     "cf",        "ini", "properties",
    "prop", "hocon", "toml", "yaml", "yml",  "xml",     "json",      "js",  "py",
    "py3",  "csv",   "tsv",  "md",   "rst",  "MLmodel", "MLproject",
};

typedef struct {
    const char *extension; /* without the dot, lower case */
    const char *type;
} mime_entry;

/* Python 3.11 mimetypes._types_map_default, sorted by extension. */
static const mime_entry mime_table[] = {
    {"3g2", "audio/3gpp2"},
    {"3gp", "audio/3gpp"},
    {"3gpp", "audio/3gpp"},
    {"3gpp2", "audio/3gpp2"},
    {"a", "application/octet-stream"},
    {"aac", "audio/aac"},
    {"adts", "audio/aac"},
    {"ai", "application/postscript"},
    {"aif", "audio/x-aiff"},
    {"aifc", "audio/x-aiff"},
    {"aiff", "audio/x-aiff"},
    {"ass", "audio/aac"},
    {"au", "audio/basic"},
    {"avi", "video/x-msvideo"},
    {"avif", "image/avif"},
    {"bat", "text/plain"},
    {"bcpio", "application/x-bcpio"},
    {"bin", "application/octet-stream"},
    {"bmp", "image/bmp"},
    {"c", "text/plain"},
    {"cdf", "application/x-netcdf"},
    {"cpio", "application/x-cpio"},
    {"csh", "application/x-csh"},
    {"css", "text/css"},
    {"csv", "text/csv"},
    {"dll", "application/octet-stream"},
    {"doc", "application/msword"},
    {"dot", "application/msword"},
    {"dvi", "application/x-dvi"},
    {"eml", "message/rfc822"},
    {"eps", "application/postscript"},
    {"etx", "text/x-setext"},
    {"exe", "application/octet-stream"},
    {"gif", "image/gif"},
    {"gtar", "application/x-gtar"},
    {"h", "text/plain"},
    {"h5", "application/x-hdf5"},
    {"hdf", "application/x-hdf"},
    {"heic", "image/heic"},
    {"heif", "image/heif"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"ico", "image/vnd.microsoft.icon"},
    {"ief", "image/ief"},
    {"jpe", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "application/javascript"},
    {"json", "application/json"},
    {"ksh", "text/plain"},
    {"latex", "application/x-latex"},
    {"loas", "audio/aac"},
    {"m1v", "video/mpeg"},
    {"m3u", "application/vnd.apple.mpegurl"},
    {"m3u8", "application/vnd.apple.mpegurl"},
    {"man", "application/x-troff-man"},
    {"me", "application/x-troff-me"},
    {"mht", "message/rfc822"},
    {"mhtml", "message/rfc822"},
    {"mif", "application/x-mif"},
    {"mjs", "application/javascript"},
    {"mov", "video/quicktime"},
    {"movie", "video/x-sgi-movie"},
    {"mp2", "audio/mpeg"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpa", "video/mpeg"},
    {"mpe", "video/mpeg"},
    {"mpeg", "video/mpeg"},
    {"mpg", "video/mpeg"},
    {"ms", "application/x-troff-ms"},
    {"n3", "text/n3"},
    {"nc", "application/x-netcdf"},
    {"nq", "application/n-quads"},
    {"nt", "application/n-triples"},
    {"nws", "message/rfc822"},
    {"o", "application/octet-stream"},
    {"obj", "application/octet-stream"},
    {"oda", "application/oda"},
    {"opus", "audio/opus"},
    {"p12", "application/x-pkcs12"},
    {"p7c", "application/pkcs7-mime"},
    {"pbm", "image/x-portable-bitmap"},
    {"pdf", "application/pdf"},
    {"pfx", "application/x-pkcs12"},
    {"pgm", "image/x-portable-graymap"},
    {"pl", "text/plain"},
    {"png", "image/png"},
    {"pnm", "image/x-portable-anymap"},
    {"pot", "application/vnd.ms-powerpoint"},
    {"ppa", "application/vnd.ms-powerpoint"},
    {"ppm", "image/x-portable-pixmap"},
    {"pps", "application/vnd.ms-powerpoint"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"ps", "application/postscript"},
    {"pwz", "application/vnd.ms-powerpoint"},
    {"py", "text/x-python"},
    {"pyc", "application/x-python-code"},
    {"pyo", "application/x-python-code"},
    {"qt", "video/quicktime"},
    {"ra", "audio/x-pn-realaudio"},
    {"ram", "application/x-pn-realaudio"},
    {"ras", "image/x-cmu-raster"},
    {"rdf", "application/xml"},
    {"rgb", "image/x-rgb"},
    {"roff", "application/x-troff"},
    {"rtx", "text/richtext"},
    {"sgm", "text/x-sgml"},
    {"sgml", "text/x-sgml"},
    {"sh", "application/x-sh"},
    {"shar", "application/x-shar"},
    {"snd", "audio/basic"},
    {"so", "application/octet-stream"},
    {"src", "application/x-wais-source"},
    {"srt", "text/plain"},
    {"sv4cpio", "application/x-sv4cpio"},
    {"sv4crc", "application/x-sv4crc"},
    {"svg", "image/svg+xml"},
    {"swf", "application/x-shockwave-flash"},
    {"t", "application/x-troff"},
    {"tar", "application/x-tar"},
    {"tcl", "application/x-tcl"},
    {"tex", "application/x-tex"},
    {"texi", "application/x-texinfo"},
    {"texinfo", "application/x-texinfo"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"tr", "application/x-troff"},
    {"trig", "application/trig"},
    {"tsv", "text/tab-separated-values"},
    {"txt", "text/plain"},
    {"ustar", "application/x-ustar"},
    {"vcf", "text/x-vcard"},
    {"vtt", "text/vtt"},
    {"wasm", "application/wasm"},
    {"wav", "audio/x-wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"wiz", "application/msword"},
    {"wsdl", "application/xml"},
    {"xbm", "image/x-xbitmap"},
    {"xlb", "application/vnd.ms-excel"},
    {"xls", "application/vnd.ms-excel"},
    {"xml", "text/xml"},
    {"xpdl", "application/xml"},
    {"xpm", "image/x-xpixmap"},
    {"xsl", "application/xml"},
    {"xwd", "image/x-xwindowdump"},
    {"zip", "application/zip"},
};

/* mimetypes' suffix_map: shorthand suffixes that stand for two. */
static const struct {
    const char *suffix, *expansion;
} suffix_map[] = {
    {".svgz", ".svg.gz"}, {".tgz", ".tar.gz"},   {".taz", ".tar.gz"},
    {".tz", ".tar.gz"},   {".tbz2", ".tar.bz2"}, {".txz", ".tar.xz"},
};

/* mimetypes' encodings_map (case-sensitive): the type is that of the name without it. */
static const char *const encoding_suffixes[] = {".gz", ".Z", ".bz2", ".xz", ".br"};

/* posixpath.splitext: the extension starts at the last dot that has some
 * other character before it; returns its offset, or len when there is none. */
static size_t extension_offset(const char *name, size_t len) {
    const char *dot = NULL;
    for (size_t i = len; i > 0; i--) {
        if (name[i - 1] == '.') {
            dot = name + i - 1;
            break;
        }
    }
    if (!dot)
        return len;
    for (const char *p = name; p < dot; p++)
        if (*p != '.')
            return (size_t)(dot - name);
    return len;
}

static const char *table_lookup(const char *extension) {
    size_t lo = 0, hi = sizeof mime_table / sizeof mime_table[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcasecmp(extension, mime_table[mid].extension);
        if (cmp == 0)
            return mime_table[mid].type;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* mimetypes.guess_type(name)[0], or NULL. */
static const char *python_guess_type(const char *name) {
    enum { KEEP = 255 }; /* no extension is longer; file names rarely are */
    char buf[KEEP + 64];
    size_t len = strlen(name);
    if (len > KEEP) {
        name += len - KEEP;
        len = KEEP;
    }
    memcpy(buf, name, len);
    buf[len] = '\0';
    size_t ext = extension_offset(buf, len);
    for (bool expanded = true; expanded;) {
        expanded = false;
        for (size_t i = 0; i < sizeof suffix_map / sizeof suffix_map[0]; i++) {
            if (strcmp(buf + ext, suffix_map[i].suffix) == 0) {
                strcpy(buf + ext, suffix_map[i].expansion);
                len = strlen(buf);
                ext = extension_offset(buf, len);
                expanded = true;
                break;
            }
        }
    }
    for (size_t i = 0; i < sizeof encoding_suffixes / sizeof encoding_suffixes[0]; i++) {
        if (strcmp(buf + ext, encoding_suffixes[i]) == 0) {
            buf[ext] = '\0';
            len = ext;
            ext = extension_offset(buf, len);
            break;
        }
    }
    if (ext == len)
        return NULL;
    return table_lookup(buf + ext + 1);
}

const char *mfd_artifact_mime_type(const char *path) {
    const char *name = mfd_artifact_path_basename(path);
    size_t len = strlen(name);
    size_t ext = extension_offset(name, len);
    const char *extension = ext < len ? name + ext + 1 : name; /* MLmodel, MLproject */
    for (size_t i = 0; i < sizeof text_extensions / sizeof text_extensions[0]; i++)
        if (strcmp(extension, text_extensions[i]) == 0)
            return "text/plain";
    const char *type = python_guess_type(name);
    return type ? type : "application/octet-stream";
}
