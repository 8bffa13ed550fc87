// Command validate renders a Helm chart offline (see render.go) and checks the result: every document is valid YAML,
// decodes into a typed Kubernetes object with no unknown field (k8s.go), and passes the cross-object checks a cluster
// or a careful reviewer would apply (names, labels, selectors, named ports, probes, volumes, secrets, quantities,
// the sidecar's security context). Usage:
//
//	validate -chart DIR [-f values.yaml]... [-release NAME] [-expect Kind,Kind...] [-o rendered.yaml] [-config-out appsettings.json]
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	yaml "gopkg.in/yaml.v3"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelValue       = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	labelKey         = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	quantity         = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$`)
	envName          = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
)

type object struct {
	kind string
	name string
	file string
	obj  interface{}
}

type checker struct {
	errors []string
	notes  []string
}

func (c *checker) fail(format string, args ...interface{}) {
	c.errors = append(c.errors, fmt.Sprintf(format, args...))
}

func main() {
	chartDir := flag.String("chart", "", "chart directory")
	release := flag.String("release", "demo", "release name")
	expect := flag.String("expect", "", "comma-separated kinds the render must contain exactly (e.g. Deployment,Service)")
	output := flag.String("o", "", "write the rendered manifests here")
	configOut := flag.String("config-out", "", "write the rendered appsettings.json (from the ConfigMap) here")
	var files valueFiles
	flag.Var(&files, "f", "values file (repeatable, later wins)")
	flag.Parse()

	root, err := loadChart(*chartDir)
	if err != nil {
		fmt.Println("FAIL load:", err)
		os.Exit(1)
	}
	given := map[string]interface{}{}
	for _, f := range files {
		v, err := loadYAMLFile(f)
		if err != nil {
			fmt.Println("FAIL values:", err)
			os.Exit(1)
		}
		given = merge(given, v)
	}
	out, err := render(root, *release, given)
	if err != nil {
		fmt.Println("FAIL render:", err)
		os.Exit(1)
	}

	c := &checker{}
	var objects []object
	var manifest bytes.Buffer
	for _, r := range out {
		for i, doc := range strings.Split(r.text, "\n---") {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			where := fmt.Sprintf("%s#%d", r.name, i)
			fmt.Fprintf(&manifest, "---\n# Source: %s\n%s\n", r.name, strings.TrimLeft(doc, "\n"))
			if o, ok := decode(c, where, doc); ok {
				objects = append(objects, o)
			}
		}
	}
	if *output != "" {
		_ = os.WriteFile(*output, manifest.Bytes(), 0o644)
	}
	checkAll(c, objects)
	if *configOut != "" {
		for _, o := range objects {
			if cm, ok := o.obj.(*ConfigMap); ok && cm.Data["appsettings.json"] != "" {
				_ = os.WriteFile(*configOut, []byte(cm.Data["appsettings.json"]), 0o644)
			}
		}
	}

	kindsSeen := []string{}
	for _, o := range objects {
		kindsSeen = append(kindsSeen, o.kind)
	}
	sort.Strings(kindsSeen)
	if *expect != "" {
		want := strings.Split(*expect, ",")
		sort.Strings(want)
		if strings.Join(want, ",") != strings.Join(kindsSeen, ",") {
			c.fail("rendered kinds %v, expected %v", kindsSeen, want)
		}
	}
	for _, n := range c.notes {
		fmt.Println("note:", n)
	}
	if len(c.errors) > 0 {
		for _, e := range c.errors {
			fmt.Println("FAIL", e)
		}
		os.Exit(1)
	}
	fmt.Printf("ok: %d objects valid (%s)\n", len(objects), strings.Join(kindsSeen, ", "))
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func decode(c *checker, where, doc string) (object, bool) {
	var head TypeMeta
	if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
		c.fail("%s: not valid YAML: %v", where, err)
		return object{}, false
	}
	newObj, ok := kinds[head.APIVersion+"/"+head.Kind]
	if !ok {
		c.fail("%s: unknown apiVersion/kind %s/%s", where, head.APIVersion, head.Kind)
		return object{}, false
	}
	obj := newObj()
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(obj); err != nil {
		c.fail("%s (%s): %v", where, head.Kind, err)
		return object{}, false
	}
	meta := metaOf(obj)
	if meta.Name == "" || len(meta.Name) > 253 || !dns1123Subdomain.MatchString(meta.Name) {
		c.fail("%s: %s name %q is not a DNS-1123 subdomain", where, head.Kind, meta.Name)
	}
	if (head.Kind == "Service" || head.Kind == "Pod") && (len(meta.Name) > 63 || !dns1123Label.MatchString(meta.Name)) {
		c.fail("%s: %s name %q is not a DNS-1123 label", where, head.Kind, meta.Name)
	}
	checkLabels(c, where, meta.Labels)
	return object{head.Kind, meta.Name, where, obj}, true
}

func metaOf(obj interface{}) ObjectMeta {
	switch o := obj.(type) {
	case *Deployment:
		return o.Metadata
	case *Pod:
		return o.Metadata
	case *Service:
		return o.Metadata
	case *ConfigMap:
		return o.Metadata
	case *Secret:
		return o.Metadata
	case *ServiceAccount:
		return o.Metadata
	case *HorizontalPodAutoscaler:
		return o.Metadata
	case *PodDisruptionBudget:
		return o.Metadata
	case *ServiceMonitor:
		return o.Metadata
	case *NetworkPolicy:
		return o.Metadata
	case *PrometheusRule:
		return o.Metadata
	}
	return ObjectMeta{}
}

func checkLabels(c *checker, where string, labels map[string]string) {
	for k, v := range labels {
		if !labelKey.MatchString(k) {
			c.fail("%s: label key %q invalid", where, k)
		}
		if len(v) > 63 || !labelValue.MatchString(v) {
			c.fail("%s: label %s value %q invalid", where, k, v)
		}
	}
}

func subset(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func find(objects []object, kind, name string) *object {
	for i := range objects {
		if objects[i].kind == kind && objects[i].name == name {
			return &objects[i]
		}
	}
	return nil
}

func checkAll(c *checker, objects []object) {
	seen := map[string]bool{}
	for _, o := range objects {
		key := o.kind + "/" + o.name
		if seen[key] {
			c.fail("%s rendered twice", key)
		}
		seen[key] = true
	}
	var podTemplates []struct {
		where  string
		labels map[string]string
		spec   PodSpec
	}
	for _, o := range objects {
		switch v := o.obj.(type) {
		case *Deployment:
			if !subset(v.Spec.Selector.MatchLabels, v.Spec.Template.Metadata.Labels) {
				c.fail("%s: selector %v does not match the pod template's labels", o.file, v.Spec.Selector.MatchLabels)
			}
			checkLabels(c, o.file+" template", v.Spec.Template.Metadata.Labels)
			podTemplates = append(podTemplates, struct {
				where  string
				labels map[string]string
				spec   PodSpec
			}{o.file, v.Spec.Template.Metadata.Labels, v.Spec.Template.Spec})
			checkPod(c, o.file, v.Spec.Template.Spec, objects)
		case *Pod:
			if v.Spec.RestartPolicy != "Never" && v.Metadata.Annotations["helm.sh/hook"] == "test" {
				c.fail("%s: a helm test pod must not restart", o.file)
			}
			checkPod(c, o.file, v.Spec, objects)
		case *Secret:
			for k, val := range v.Data {
				if _, err := base64.StdEncoding.DecodeString(val); err != nil {
					c.fail("%s: secret data %s is not base64", o.file, k)
				}
			}
		case *PrometheusRule:
			checkPrometheusRule(c, o.file, v)
		case *ConfigMap:
			if s, ok := v.Data["inference-sidecar.json"]; ok {
				checkDashboard(c, o.file, v, s)
			}
			if s, ok := v.Data["appsettings.json"]; ok {
				var cfg map[string]interface{}
				if err := json.Unmarshal([]byte(s), &cfg); err != nil {
					c.fail("%s: appsettings.json is not JSON: %v", o.file, err)
				} else if _, ok := cfg["ReverseProxy"]; !ok {
					c.fail("%s: appsettings.json has no ReverseProxy section", o.file)
				} else {
					checkExpectedReplicas(c, o.file, cfg, objects)
				}
			}
		}
	}
	for _, o := range objects {
		switch v := o.obj.(type) {
		case *Service:
			pods := 0
			for _, p := range podTemplates {
				if subset(v.Spec.Selector, p.labels) {
					pods++
					for _, sp := range v.Spec.Ports {
						if !sp.TargetPort.IsInt && !hasPort(p.spec, sp.TargetPort.Str) {
							c.fail("%s: targetPort %q is no container port of %s", o.file, sp.TargetPort.Str, p.where)
						}
					}
				}
			}
			if pods == 0 {
				c.fail("%s: selector %v matches no rendered pod template", o.file, v.Spec.Selector)
			}
		case *HorizontalPodAutoscaler:
			if find(objects, v.Spec.ScaleTargetRef.Kind, v.Spec.ScaleTargetRef.Name) == nil {
				c.fail("%s: scaleTargetRef %s/%s not rendered", o.file, v.Spec.ScaleTargetRef.Kind, v.Spec.ScaleTargetRef.Name)
			}
			if v.Spec.MinReplicas != nil && *v.Spec.MinReplicas > v.Spec.MaxReplicas {
				c.fail("%s: minReplicas > maxReplicas", o.file)
			}
		case *PodDisruptionBudget:
			if !matchesAny(v.Spec.Selector.MatchLabels, podTemplates) {
				c.fail("%s: selector matches no rendered pod template", o.file)
			}
		case *NetworkPolicy:
			if !matchesAny(v.Spec.PodSelector.MatchLabels, podTemplates) {
				c.fail("%s: podSelector matches no rendered pod template", o.file)
			}
			for _, rule := range v.Spec.Ingress {
				for _, p := range rule.Ports {
					if p.Port != nil && !p.Port.IsInt && !anyHasPort(podTemplates, p.Port.Str) {
						c.fail("%s: ingress port %q is no container port", o.file, p.Port.Str)
					}
				}
			}
		case *ServiceMonitor:
			matched := false
			for _, s := range objects {
				if svc, ok := s.obj.(*Service); ok && subset(v.Spec.Selector.MatchLabels, svc.Metadata.Labels) {
					matched = true
					for _, e := range v.Spec.Endpoints {
						found := false
						for _, p := range svc.Spec.Ports {
							found = found || p.Name == e.Port
						}
						if !found {
							c.fail("%s: endpoint port %q is no port of service %s", o.file, e.Port, svc.Metadata.Name)
						}
					}
				}
			}
			if !matched {
				c.fail("%s: selector matches no rendered Service's labels", o.file)
			}
		}
	}
}

func matchesAny(selector map[string]string, pods []struct {
	where  string
	labels map[string]string
	spec   PodSpec
}) bool {
	for _, p := range pods {
		if subset(selector, p.labels) {
			return true
		}
	}
	return false
}

func anyHasPort(pods []struct {
	where  string
	labels map[string]string
	spec   PodSpec
}, name string) bool {
	for _, p := range pods {
		if hasPort(p.spec, name) {
			return true
		}
	}
	return false
}

func hasPort(spec PodSpec, name string) bool {
	for _, ctr := range spec.Containers {
		for _, p := range ctr.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func checkPod(c *checker, where string, spec PodSpec, objects []object) {
	if len(spec.Containers) == 0 {
		c.fail("%s: no containers", where)
	}
	volumes := map[string]Volume{}
	for _, v := range spec.Volumes {
		if _, dup := volumes[v.Name]; dup {
			c.fail("%s: volume %s defined twice", where, v.Name)
		}
		sources := 0
		if v.ConfigMap != nil {
			sources++
			if find(objects, "ConfigMap", v.ConfigMap.Name) == nil {
				c.fail("%s: volume %s names ConfigMap %s, which is not rendered", where, v.Name, v.ConfigMap.Name)
			}
		}
		if v.Secret != nil {
			sources++
			if find(objects, "Secret", v.Secret.SecretName) == nil {
				c.notes = append(c.notes, fmt.Sprintf("%s: volume %s uses Secret %s, expected to exist already (existingSecret)", where, v.Name, v.Secret.SecretName))
			}
		}
		if v.EmptyDir != nil {
			sources++
		}
		if sources != 1 {
			c.fail("%s: volume %s must have exactly one source", where, v.Name)
		}
		volumes[v.Name] = v
	}
	names := map[string]bool{}
	for _, ctr := range spec.Containers {
		if names[ctr.Name] || !dns1123Label.MatchString(ctr.Name) {
			c.fail("%s: container name %q duplicate or invalid", where, ctr.Name)
		}
		names[ctr.Name] = true
		if ctr.Image == "" || strings.HasSuffix(ctr.Image, ":") {
			c.fail("%s: container %s has no image tag", where, ctr.Name)
		}
		ports := map[string]bool{}
		for _, p := range ctr.Ports {
			if p.Name != "" && (len(p.Name) > 15 || ports[p.Name]) {
				c.fail("%s: container %s port name %q too long or duplicate", where, ctr.Name, p.Name)
			}
			if p.ContainerPort < 1 || p.ContainerPort > 65535 {
				c.fail("%s: container %s port %d out of range", where, ctr.Name, p.ContainerPort)
			}
			ports[p.Name] = true
		}
		for _, probe := range []*Probe{ctr.StartupProbe, ctr.LivenessProbe, ctr.ReadinessProbe} {
			if probe != nil && probe.HTTPGet != nil && !probe.HTTPGet.Port.IsInt && !ports[probe.HTTPGet.Port.Str] {
				c.fail("%s: container %s probe port %q is not one of its ports", where, ctr.Name, probe.HTTPGet.Port.Str)
			}
		}
		for _, m := range ctr.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				c.fail("%s: container %s mounts volume %s, which the pod does not define", where, ctr.Name, m.Name)
			}
		}
		for _, e := range ctr.Env {
			if !envName.MatchString(e.Name) || (e.Value != nil) == (e.ValueFrom != nil) {
				c.fail("%s: container %s env %q invalid (name, or not exactly one of value/valueFrom)", where, ctr.Name, e.Name)
			}
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && find(objects, "Secret", e.ValueFrom.SecretKeyRef.Name) == nil {
				c.notes = append(c.notes, fmt.Sprintf("%s: env %s reads Secret %s, expected to exist already", where, e.Name, e.ValueFrom.SecretKeyRef.Name))
			}
		}
		if ctr.Resources != nil {
			for k, q := range merged(ctr.Resources.Requests, ctr.Resources.Limits) {
				if !quantity.MatchString(q) {
					c.fail("%s: container %s resource %s quantity %q invalid", where, ctr.Name, k, q)
				}
			}
		}
		if ctr.Name == "inference-sidecar" {
			sc := ctr.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !contains(sc.Capabilities.Drop, "ALL") {
				c.fail("%s: the sidecar container must run non-root, read-only root FS, no privilege escalation, all capabilities dropped", where)
			}
			if ctr.ReadinessProbe == nil || ctr.LivenessProbe == nil {
				c.fail("%s: the sidecar container needs readiness and liveness probes", where)
			}
			if ctr.Resources == nil || ctr.Resources.Requests["memory"] == "" || ctr.Resources.Limits["memory"] == "" {
				c.fail("%s: the sidecar container needs memory requests and limits", where)
			}
		}
	}
}

func merged(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out["requests."+k] = v
	}
	for k, v := range b {
		out["limits."+k] = v
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkExpectedReplicas: the rendered Sidecar:RateLimits:ExpectedReplicas is a whole number >= 1 and, where this render
// has the Deployment, at least its replica count and at least the HPA's maxReplicas, so that failing open never admits
// more than the limit across replicas.
func checkExpectedReplicas(c *checker, where string, cfg map[string]interface{}, objects []object) {
	sidecar, _ := cfg["Sidecar"].(map[string]interface{})
	limits, _ := sidecar["RateLimits"].(map[string]interface{})
	n, ok := limits["ExpectedReplicas"].(float64)
	if !ok || n < 1 || n != float64(int(n)) {
		c.fail("%s: Sidecar.RateLimits.ExpectedReplicas is %v, want a whole number >= 1", where, limits["ExpectedReplicas"])
		return
	}
	for _, o := range objects {
		switch v := o.obj.(type) {
		case *Deployment:
			if v.Spec.Replicas != nil && int(n) < *v.Spec.Replicas {
				c.fail("%s: ExpectedReplicas %d < %s replicas %d", where, int(n), o.file, *v.Spec.Replicas)
			}
		case *HorizontalPodAutoscaler:
			if int(n) < v.Spec.MaxReplicas {
				c.fail("%s: ExpectedReplicas %d < %s maxReplicas %d", where, int(n), o.file, v.Spec.MaxReplicas)
			}
		}
	}
}


// checkDashboard: the Grafana dashboard ConfigMap is labelled for the Grafana sidecar and holds a dashboard whose every
// panel has a PromQL target.
func checkDashboard(c *checker, file string, cm *ConfigMap, body string) {
	if cm.Metadata.Labels["grafana_dashboard"] == "" {
		c.fail("%s: the dashboard ConfigMap lacks the grafana_dashboard label", file)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(body), &dash); err != nil {
		c.fail("%s: the dashboard is not JSON: %v", file, err)
		return
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		c.fail("%s: the dashboard has no uid or no panels", file)
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 || strings.TrimSpace(p.Targets[0].Expr) == "" {
			c.fail("%s: panel %q has no PromQL", file, p.Title)
		}
	}
}

// checkPrometheusRule: every alert the issue names is there, each with an expression and a severity.
func checkPrometheusRule(c *checker, file string, r *PrometheusRule) {
	want := map[string]bool{"InferenceSidecarHigh429Rate": false, "InferenceSidecarUpstreamErrors": false, "InferenceSidecarCircuitOpen": false,
		"InferenceSidecarRedisUnavailable": false, "InferenceSidecarBudgetExhausted": false, "InferenceSidecarScrapeMissing": false}
	for _, g := range r.Spec.Groups {
		for _, rule := range g.Rules {
			if strings.TrimSpace(rule.Expr) == "" || rule.Labels["severity"] == "" {
				c.fail("%s: alert %q needs an expr and a severity", file, rule.Alert)
			}
			if strings.Contains(rule.Expr, "{{") {
				c.fail("%s: alert %q has an unrendered template in its expr", file, rule.Alert)
			}
			want[rule.Alert] = true
		}
	}
	for name, seen := range want {
		if !seen {
			c.fail("%s: alert %s is missing", file, name)
		}
	}
}
