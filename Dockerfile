# syntax=docker/dockerfile:1
# A static wagate binary on a distroless base, run as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/wagate ./cmd/wagate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wagate /wagate
ENV PORT=3000 DATA_DIR=/data
VOLUME /data
EXPOSE 3000
USER nonroot:nonroot
HEALTHCHECK --interval=10s --timeout=5s --retries=3 CMD ["/wagate", "health"]
ENTRYPOINT ["/wagate"]
