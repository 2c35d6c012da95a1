# The eleanor binary in a small image: `serve` by default; run `worker`
# or `migrate` with the same image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /eleanor ./cmd/eleanor

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 eleanor
COPY --from=build /eleanor /usr/local/bin/eleanor
USER eleanor
EXPOSE 8080
ENTRYPOINT ["eleanor"]
CMD ["serve"]
