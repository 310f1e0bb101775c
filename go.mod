module github.com/inferd/inferd

go 1.26

tool google.golang.org/protobuf/cmd/protoc-gen-go

require google.golang.org/protobuf v1.36.10

require golang.org/x/sys v0.47.0

require gonum.org/v1/gonum v0.17.0 // indirect
