// Package e2e holds end-to-end tests that drive real tools over coinpipe's
// output: the generated Dockerfile is built for real with buildah, on a
// Debian base image made locally with debootstrap, from a synthetic release
// served on loopback. See README.md for what it proves and how to run it.
//
// The package has no code outside its tests.
package e2e
