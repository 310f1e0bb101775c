module github.com/inferd/inferd

go 1.26
