# syntax=docker/dockerfile:1
# podmedic's container image: one static (musl) binary on distroless,
# running as the non-root user 65532. Nothing else is in the image:
# signatures and playbooks are compiled into the binary (build.rs).
#
#   docker build -t podmedic:dev .        (BuildKit; docker buildx for arm64)
#
# This project's CI has no Docker engine, so the image is not built there;
# `cargo build --release --locked --target x86_64-unknown-linux-musl` with
# musl-tools installed is the same build (see deploy/README.md).

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS build
ARG TARGETARCH
# musl-gcc compiles ring's C and assembly for the musl target.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN case "${TARGETARCH:-amd64}" in \
      amd64) echo x86_64-unknown-linux-musl ;; \
      arm64) echo aarch64-unknown-linux-musl ;; \
      *) echo "unsupported architecture ${TARGETARCH}" >&2; exit 1 ;; \
    esac > /rust-target \
 && rustup target add "$(cat /rust-target)"
WORKDIR /src
COPY . .
# The release profile keeps line tables (debug = "line-tables-only"); the
# image drops them: 13 MB instead of 95 MB, symbols stay for backtraces.
ENV CARGO_PROFILE_RELEASE_STRIP=debuginfo
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target "$(cat /rust-target)" --bin podmedic \
 && cp "target/$(cat /rust-target)/release/podmedic" /podmedic

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /podmedic /podmedic
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/podmedic"]
CMD ["run"]
