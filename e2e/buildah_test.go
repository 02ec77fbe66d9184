package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Timeouts for the commands the suite runs.
const (
	buildTimeout = 10 * time.Minute
	quickTimeout = 2 * time.Minute
)

// buildah runs buildah on the suite's own storage (vfs driver, under the
// cache directory), so the tests never touch the system's image store and
// the base image survives between runs.
type buildah struct {
	root, runroot string
}

func newBuildah(cache string) *buildah {
	return &buildah{root: filepath.Join(cache, "storage"), runroot: filepath.Join(cache, "run")}
}

func (b *buildah) run(ctx context.Context, timeout time.Duration, args ...string) cmdResult {
	return run(ctx, timeout, "buildah", append(b.storageArgs(), args...)...)
}

// storageArgs are the global flags that put buildah on the suite's storage.
func (b *buildah) storageArgs() []string {
	return []string{"--root", b.root, "--runroot", b.runroot, "--storage-driver", "vfs"}
}

// imageExists reports whether ref names an image in the suite's storage.
func (b *buildah) imageExists(ctx context.Context, ref string) bool {
	return b.run(ctx, quickTimeout, "inspect", "--type", "image", ref).Err == nil
}

// build builds contextDir's Dockerfile into tag as the daemon repo's
// pipeline does (templates/ci/daemon.yml: chroot isolation, vfs, OCI
// format), plus: never pull (every image it names must be local), no cached
// layers, no host proxy variables (the mirror is on loopback) and no
// intermediate containers left behind. flags are added as they are.
func (b *buildah) build(ctx context.Context, contextDir, tag string, buildArgs map[string]string, flags ...string) cmdResult {
	args := []string{"build", "--isolation", "chroot", "--format", "oci", "--pull=never", "--http-proxy=false",
		"--layers=false", "--force-rm", "-f", filepath.Join(contextDir, "Dockerfile"), "-t", tag}
	args = append(args, flags...)
	keys := make([]string, 0, len(buildArgs))
	for k := range buildArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--build-arg", k+"="+buildArgs[k])
	}
	return b.run(ctx, buildTimeout, append(args, contextDir)...)
}

// removeImage deletes an image; tests call it in Cleanup so vfs copies of
// failed or finished builds do not pile up in the cache.
func (b *buildah) removeImage(ctx context.Context, ref string) {
	b.run(ctx, quickTimeout, "rmi", "--force", ref)
}

// sweep removes what an interrupted run left in the suite's storage:
// working containers and every image but the current base image (keep).
// Only the suite uses this storage, and lockCache keeps other runs out.
func (b *buildah) sweep(ctx context.Context, t *testing.T, keep string) {
	t.Helper()
	b.run(ctx, quickTimeout, "rm", "--all").must(t)
	out := b.run(ctx, quickTimeout, "images", "--all", "--noheading", "--format", "{{.ID}} {{.Name}}:{{.Tag}}").must(t)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) != 2 || f[1] == keep:
		case strings.Contains(f[1], "<none>"):
			b.run(ctx, quickTimeout, "rmi", "--force", f[0]) // dangling: only an ID
		default:
			b.run(ctx, quickTimeout, "rmi", f[1]) // untags; the base may share the ID
		}
	}
}

// ociImage is the part of an image's OCI configuration the tests read.
type ociImage struct {
	Config struct {
		User         string              `json:"User"`
		Env          []string            `json:"Env"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Volumes      map[string]struct{} `json:"Volumes"`
		Labels       map[string]string   `json:"Labels"`
		StopSignal   string              `json:"StopSignal"`
	} `json:"config"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// inspect reads an image's OCI configuration and its ID.
func (b *buildah) inspect(ctx context.Context, t *testing.T, ref string) (id string, img ociImage) {
	t.Helper()
	out := b.run(ctx, quickTimeout, "inspect", "--type", "image", ref).must(t)
	var doc struct {
		FromImageID string   `json:"FromImageID"`
		OCIv1       ociImage `json:"OCIv1"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("reading buildah inspect %s: %v", ref, err)
	}
	return doc.FromImageID, doc.OCIv1
}

// container is a working container made from an image, mounted on the host.
type container struct {
	b          *buildah
	name, root string
}

// fromImage makes a working container of ref and mounts its root
// filesystem; Cleanup removes it.
func (b *buildah) fromImage(ctx context.Context, t *testing.T, ref string) *container {
	t.Helper()
	name := strings.TrimSpace(b.run(ctx, quickTimeout, "from", "--pull=never", ref).must(t))
	t.Cleanup(func() { b.run(context.WithoutCancel(ctx), quickTimeout, "rm", name) })
	root := strings.TrimSpace(b.run(ctx, quickTimeout, "mount", name).must(t))
	return &container{b: b, name: name, root: root}
}

// exec runs argv in the container as its configured user, the way the
// image's user would run it.
func (c *container) exec(ctx context.Context, argv ...string) cmdResult {
	return c.b.run(ctx, quickTimeout, append([]string{"run", "--isolation", "chroot", c.name, "--"}, argv...)...)
}
