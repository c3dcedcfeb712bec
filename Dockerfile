# mlflowd container image: the image the Helm chart (deploy/helm/mlflowd) runs.
#
#   docker build -t mlflowd .
#   docker run --rm -p 5000:5000 -v mlflowd-data:/var/lib/mlflowd mlflowd server
#
# Two stages. The build stage runs the project's own build, exactly as `make build` does on a
# Debian 12 machine: scripts/install-deps.sh (apt packages; npm for the web UI bundle), then the
# Meson release build. The runtime stage is Debian 12 slim with only the shared libraries the
# binary links (scripts/check-dockerfile.sh compares this list with the binary's `readelf -d`
# NEEDED entries and their Debian packages) and runs as an unprivileged user.

FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN scripts/install-deps.sh \
 && meson setup build/release --buildtype=release -Db_pie=true \
 && ninja -C build/release \
 && strip build/release/mlflowd \
 && build/release/mlflowd --version

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libcurl4 \
      libjansson4 \
      libjose0 \
      libmicrohttpd12 \
      libpq5 \
      libsqlite3-0 \
      libssl3 \
      libxml2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 1001 mlflowd \
 && useradd --system --uid 1001 --gid 1001 --home-dir /var/lib/mlflowd --create-home \
      --shell /usr/sbin/nologin mlflowd
COPY --from=build /src/build/release/mlflowd /usr/local/bin/mlflowd
WORKDIR /var/lib/mlflowd
USER 1001:1001
# In a container the API listens on every interface; the chart binds it to 127.0.0.1 when the
# oauth2-proxy sidecar is on. 5000: the API; 5001: /health, /ready, /metrics (--health-port).
ENV MLFLOW_HOST=0.0.0.0 \
    MLFLOWD_HEALTH_PORT=5001
EXPOSE 5000 5001
ENTRYPOINT ["mlflowd"]
CMD ["server"]
