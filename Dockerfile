# The etl2elt image: the worker and the starter (operator CLI), plus the example plans.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/ ./worker ./starter

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /out/starter /usr/local/bin/
COPY examples /plans
ENV ETL2ELT_PLAN_DIR=/plans
# The distroless nonroot user by number: Kubernetes' runAsNonRoot cannot check a name.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/worker"]
