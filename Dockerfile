# A FROM-scratch image holding only the static binary.
#
# With a registry (builds the binary in a Rust container):
#   docker build -t minimost .
# Without one, from a static binary built on this machine (what the tests do):
#   cargo build --release --locked --target x86_64-unknown-linux-musl --bin minimost
#   podman build --format docker --build-arg BINARY=host -t minimost .
# For a Raspberry Pi, from a binary built for its target (docs/building.md; deploy/release
# builds all of them), e.g.:
#   podman build --format docker --build-arg BINARY=host \
#       --build-arg TARGET=aarch64-unknown-linux-musl --platform linux/arm64 -t minimost .
# Then:
#   docker run -d -p 5000:5000 -p 3478:3478/udp -v minimost-data:/data minimost
ARG BINARY=build
ARG TARGET=x86_64-unknown-linux-musl

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY www ./www
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin minimost \
 && mkdir -p /out \
 && cp target/x86_64-unknown-linux-musl/release/minimost /out/minimost

FROM scratch AS host
ARG TARGET
COPY target/${TARGET}/release/minimost /out/minimost

FROM ${BINARY} AS binary

FROM scratch
COPY --from=binary /out/minimost /minimost
USER 10001:10001
# Created by the user above (BuildKit and buildah do so), so the server can write its data.
WORKDIR /data
ENV MINIMOST_HOST=0.0.0.0 MINIMOST_PORT=5000 MINIMOST_DATA_DIR=/data
VOLUME /data
EXPOSE 5000/tcp 3478/udp
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s CMD ["/minimost", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/minimost"]
CMD ["serve"]
