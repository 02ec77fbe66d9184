package push

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// writeDirect pushes img as repo:tag with go-containerregistry alone,
// without coinpipe's check that the tag is free.
func writeDirect(t testing.TB, target Target, tag string, img v1.Image) error {
	t.Helper()
	return remote.Write(target.Repository.Tag(tag), img, remote.WithContext(t.Context()), remote.WithAuth(target.Auth))
}
