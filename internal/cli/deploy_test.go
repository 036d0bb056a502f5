package cli

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

// TestKubernetesManifests validates deploy/kubernetes offline: every
// document parses strictly, has the fields its kind requires, the
// DaemonSet asks for no more privilege than it names (no privileged, no
// host network, a read-only root, ALL capabilities dropped and three
// added back), and the PrometheusRule holds exactly the shipped alerts.
func TestKubernetesManifests(t *testing.T) {
	b, err := os.ReadFile("../../deploy/kubernetes/tcpdash.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]map[any]any{}
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		var m map[any]any
		if err := yaml.UnmarshalStrict(doc, &m); err != nil {
			t.Fatalf("a document does not parse: %v\n%s", err, doc)
		}
		kind, _ := m["kind"].(string)
		meta, _ := m["metadata"].(map[any]any)
		if kind == "" || m["apiVersion"] == nil || meta == nil || meta["name"] != "tcpdash" {
			t.Errorf("a document lacks kind, apiVersion or name tcpdash: %v", m)
		}
		kinds[kind] = m
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "DaemonSet", "Service", "PodMonitor"} {
		if kinds[k] == nil {
			t.Errorf("no %s", k)
		}
	}
	get := func(m any, path ...any) any {
		for _, p := range path {
			switch c := m.(type) {
			case map[any]any:
				m = c[p]
			case []any:
				m = c[p.(int)]
			default:
				return nil
			}
		}
		return m
	}
	ds := kinds["DaemonSet"]
	pod := get(ds, "spec", "template", "spec")
	c := get(pod, "containers", 0)
	sc := get(c, "securityContext")
	switch {
	case get(pod, "hostPID") != true, get(pod, "hostNetwork") != nil:
		t.Error("the pod needs hostPID (the node's /proc) and nothing of the host's network")
	case get(sc, "privileged") != false, get(sc, "readOnlyRootFilesystem") != true, get(sc, "allowPrivilegeEscalation") != false:
		t.Errorf("security context %v", sc)
	case !reflect.DeepEqual(get(sc, "capabilities", "drop"), []any{"ALL"}) ||
		!reflect.DeepEqual(get(sc, "capabilities", "add"), []any{"SYS_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH"}):
		t.Errorf("capabilities %v", get(sc, "capabilities"))
	case get(c, "resources", "limits", "memory") == nil || get(c, "resources", "requests", "cpu") == nil:
		t.Error("no resource requests and limits")
	case !strings.Contains(strings.Join(asStrings(get(c, "args")), " "), "exporter --listen :9478 --netns all"):
		t.Errorf("args %v", get(c, "args"))
	}
	if get(kinds["Service"], "spec", "selector", "app.kubernetes.io/name") != "tcpdash" {
		t.Error("the Service does not select the pods")
	}

	// The PrometheusRule is the shipped alerts, rule for rule.
	var rule, alerts map[string]any
	pr, _ := os.ReadFile("../../deploy/kubernetes/prometheusrule.yaml")
	al, _ := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err := yaml.Unmarshal(pr, &rule); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(al, &alerts); err != nil {
		t.Fatal(err)
	}
	spec, _ := rule["spec"].(map[any]any)
	if rule["kind"] != "PrometheusRule" || !reflect.DeepEqual(spec["groups"], alerts["groups"]) {
		t.Error("deploy/kubernetes/prometheusrule.yaml is not deploy/prometheus/alerts.yml's groups: copy them again")
	}
}

func asStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
