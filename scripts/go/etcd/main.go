// Command etcd is etcd's own server entry point. The root module go.etcd.io/etcd/v3, which holds
// etcd's main package, is not served by the Go module proxy; go.etcd.io/etcd/server/v3 is, and
// its etcdmain.Main is everything that main does.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
