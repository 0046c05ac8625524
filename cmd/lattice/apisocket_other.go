//go:build !unix

package main

import (
	"errors"
	"net"
)

// listenAPISocket is refused where Unix permissions are missing: the
// socket's point is that only its owner may connect.
func listenAPISocket(string) (net.Listener, error) {
	return nil, errors.New("--api-socket needs a Unix system")
}
