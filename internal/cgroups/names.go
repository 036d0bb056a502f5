// Package cgroups names the control groups sockets come from. The kernel
// tags every full socket with the cgroup-v2 id of the task that created it
// (INET_DIAG_CGROUP_ID): that id is the inode of the cgroup's directory on
// the cgroup2 mount. This package maps ids to paths, and paths to what
// people call them: a systemd service, a container, a Kubernetes pod.
package cgroups

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/tcpdash/tcpdash/internal/safefile"
)

// A Container is what a cgroup path says about the container in it.
type Container struct {
	// Runtime is docker, containerd, crio or podman.
	Runtime string
	// ID is the container's full id.
	ID string
	// PodUID is the Kubernetes pod's uid, when the path names one.
	PodUID string
}

// containerPatterns are what container runtimes name cgroups. They are
// compiled when first needed, not at start-up: a snapshot that names no
// cgroup (a filter that matches nothing, a host without containers) does
// not pay for them.
type containerPatterns struct {
	// docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope,
	// libpod-<id>.scope (systemd driver); /docker/<id>, /libpod/<id>
	// (cgroupfs driver); kubepods paths end in the container's id too.
	scope, plain *regexp.Regexp
	// kubepods-burstable-pod<uid>.slice, or /kubepods/burstable/pod<uid>.
	pod, k8sID *regexp.Regexp
}

var patterns = sync.OnceValue(func() containerPatterns {
	return containerPatterns{
		scope: regexp.MustCompile(`(?:^|/)(docker|cri-containerd|crio|libpod)-([0-9a-f]{12,64})\.scope$`),
		plain: regexp.MustCompile(`(?:^|/)(docker|libpod|crio|cri-containerd)/([0-9a-f]{12,64})$`),
		pod:   regexp.MustCompile(`pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})`),
		k8sID: regexp.MustCompile(`/([0-9a-f]{64})$`),
	}
})

var runtimes = map[string]string{"docker": "docker", "cri-containerd": "containerd", "crio": "crio", "libpod": "podman"}

// ParseContainer reads the container a cgroup path names, if any.
func ParseContainer(path string) (Container, bool) {
	if !mayName(path) {
		return Container{}, false
	}
	return matchContainer(path)
}

// matchContainer is ParseContainer by the patterns alone.
func matchContainer(path string) (Container, bool) {
	var c Container
	re := patterns()
	if m := re.pod.FindStringSubmatch(path); m != nil {
		c.PodUID = strings.ReplaceAll(m[1], "_", "-")
	}
	if m := re.scope.FindStringSubmatch(path); m != nil {
		c.Runtime, c.ID = runtimes[m[1]], m[2]
	} else if m := re.plain.FindStringSubmatch(path); m != nil {
		c.Runtime, c.ID = runtimes[m[1]], m[2]
	} else if m := re.k8sID.FindStringSubmatch(path); m != nil && c.PodUID != "" {
		c.Runtime, c.ID = "cri", m[1]
	}
	return c, c.ID != "" || c.PodUID != ""
}

// mayName reports whether path has a word every container pattern needs
// (libpod has pod in it, cri-containerd containerd): a host without
// containers, a load test's, never compiles the patterns (a third of a
// millisecond of a snapshot).
func mayName(path string) bool {
	return strings.Contains(path, "docker") || strings.Contains(path, "containerd") ||
		strings.Contains(path, "crio") || strings.Contains(path, "pod")
}

// Short is the id as runtimes print it: 12 characters.
func (c Container) Short() string { return c.ID[:min(12, len(c.ID))] }

func (c Container) String() string {
	switch {
	case c.ID == "":
		return "pod " + c.PodUID
	case c.PodUID != "":
		return c.Runtime + " " + c.Short() + " (pod " + c.PodUID + ")"
	}
	return c.Runtime + " " + c.Short()
}

// A Namer gives cgroup paths friendly names, reading container and pod
// names where the host keeps them readable.
type Namer struct {
	// DockerDir is /var/lib/docker/containers; PodLogDir is /var/log/pods.
	DockerDir, PodLogDir string
}

// NewNamer reads the live host's runtime directories.
func NewNamer() *Namer {
	return &Namer{DockerDir: "/var/lib/docker/containers", PodLogDir: "/var/log/pods"}
}

// Name is what people call the cgroup at path: "nginx.service", "docker
// 0123456789ab web", "pod default/api-7d9f (3f1c…)", or the path's last
// element.
func (n *Namer) Name(path string) string {
	if c, ok := ParseContainer(path); ok {
		name := c.String()
		if c.PodUID != "" {
			if pod := n.PodName(c.PodUID); pod != "" {
				name = "pod " + pod
				if c.ID != "" {
					name += " " + c.Runtime + " " + c.Short()
				}
			}
		} else if c.Runtime == "docker" {
			if dn := n.DockerName(c.ID); dn != "" {
				name += " " + dn
			}
		}
		return name
	}
	base := filepath.Base(path)
	if path == "/" || path == "" {
		return "/"
	}
	return base
}

// maxRuntimeFile bounds a runtime's state file: a container's
// config.v2.json is a few kilobytes.
const maxRuntimeFile = 1 << 20

// DockerName reads a Docker container's name from its config, "" if not
// readable.
func (n *Namer) DockerName(id string) string {
	if n.DockerDir == "" {
		return ""
	}
	// A runtime's file, read as outside input: a symlink to /dev/zero, a
	// FIFO or a gigabyte must not hang or exhaust tcpdash (or the exporter).
	b, err := safefile.ReadBounded(filepath.Join(n.DockerDir, id, "config.v2.json"), maxRuntimeFile)
	if err != nil {
		return ""
	}
	var cfg struct{ Name string }
	if json.Unmarshal(b, &cfg) != nil {
		return ""
	}
	return strings.TrimPrefix(cfg.Name, "/")
}

// PodName finds "namespace/name" of a pod by uid in the kubelet's log
// directory (<ns>_<name>_<uid>), "" if absent.
func (n *Namer) PodName(uid string) string {
	if n.PodLogDir == "" {
		return ""
	}
	entries, err := os.ReadDir(n.PodLogDir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if rest, ok := strings.CutSuffix(e.Name(), "_"+uid); ok {
			if ns, name, ok := strings.Cut(rest, "_"); ok {
				return ns + "/" + name
			}
		}
	}
	return ""
}
