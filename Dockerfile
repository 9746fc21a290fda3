# Multi-stage build to a FROM-scratch image holding only the static binary.
#   docker build -t minimost .
#   docker run -d -p 5000:5000 -p 3478:3478/udp -v minimost-data:/data minimost
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY www ./www
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
 && mkdir -p /out/data \
 && cp target/x86_64-unknown-linux-musl/release/minimost /out/minimost

FROM scratch
COPY --from=build /out/minimost /minimost
COPY --from=build --chown=10001:10001 /out/data /data
USER 10001:10001
ENV MINIMOST_HOST=0.0.0.0 MINIMOST_PORT=5000 MINIMOST_DATA_DIR=/data
VOLUME /data
EXPOSE 5000/tcp 3478/udp
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s CMD ["/minimost", "healthcheck"]
ENTRYPOINT ["/minimost"]
CMD ["serve"]
