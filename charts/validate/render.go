package main

// A faithful-as-possible offline stand-in for `helm template`: Go's text/template with the sprig function library
// Helm itself uses, Helm's own functions (include, tpl, required, toYaml, fromYaml, toJson, lookup), Helm's value
// coalescing (chart defaults < parent chart's values for a dependency < -f files), one template set per release with
// templates named "<chart>/templates/<file>", missingkey=zero with "<no value>" removed, as Helm's engine does.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	sprig "github.com/Masterminds/sprig/v3"
	yaml "gopkg.in/yaml.v3"
)

type chart struct {
	name     string
	dir      string
	meta     map[string]interface{}
	defaults map[string]interface{}
	deps     []*chart
}

func loadYAMLFile(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

func loadChart(dir string) (*chart, error) {
	meta, err := loadYAMLFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	defaults, err := loadYAMLFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	c := &chart{name: fmt.Sprint(meta["name"]), dir: dir, meta: meta, defaults: defaults}
	deps, _ := meta["dependencies"].([]interface{})
	for _, d := range deps {
		dep := d.(map[string]interface{})
		repo := fmt.Sprint(dep["repository"])
		if !strings.HasPrefix(repo, "file://") {
			return nil, fmt.Errorf("%s: only file:// dependencies can be rendered offline (got %s)", dir, repo)
		}
		sub, err := loadChart(filepath.Join(dir, strings.TrimPrefix(repo, "file://")))
		if err != nil {
			return nil, err
		}
		if sub.name != fmt.Sprint(dep["name"]) {
			return nil, fmt.Errorf("dependency %v points at chart %s", dep["name"], sub.name)
		}
		c.deps = append(c.deps, sub)
	}
	return c, nil
}

// merge returns dst with src laid over it, maps merged recursively (Helm's coalescing for our purposes).
func merge(dst, src map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := out[k].(map[string]interface{}); ok {
				out[k] = merge(dm, sm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// values coalesces a chart's defaults with what was given for it, then each dependency's under its name.
func (c *chart) values(given map[string]interface{}) map[string]interface{} {
	vals := merge(c.defaults, given)
	for _, dep := range c.deps {
		sub, _ := vals[dep.name].(map[string]interface{})
		vals[dep.name] = dep.values(sub)
	}
	return vals
}

func chartObject(c *chart) map[string]interface{} {
	return map[string]interface{}{
		"Name": c.meta["name"], "Version": c.meta["version"], "AppVersion": c.meta["appVersion"],
		"Description": c.meta["description"], "Type": c.meta["type"], "KubeVersion": c.meta["kubeVersion"],
	}
}

type rendered struct {
	name string
	text string
}

func render(root *chart, release string, given map[string]interface{}) ([]rendered, error) {
	t := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	includes := map[string]int{}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if includes[name] > 100 {
			return "", fmt.Errorf("include %q: recursion too deep", name)
		}
		includes[name]++
		defer func() { includes[name]-- }()
		var buf bytes.Buffer
		err := t.ExecuteTemplate(&buf, name, data)
		return strings.ReplaceAll(buf.String(), "<no value>", ""), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := t.Clone()
		if err != nil {
			return "", err
		}
		tt, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = tt.Execute(&buf, data)
		return buf.String(), err
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	funcs["toYaml"] = func(v interface{}) string {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return ""
		}
		return strings.TrimSuffix(buf.String(), "\n")
	}
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		out := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &out); err != nil {
			out["Error"] = err.Error()
		}
		return out
	}
	funcs["lookup"] = func(string, string, string, string) map[string]interface{} { return map[string]interface{}{} }
	t.Funcs(funcs)

	type job struct {
		name string
		ctx  map[string]interface{}
	}
	var jobs []job
	var walk func(c *chart, vals map[string]interface{}, prefix string) error
	walk = func(c *chart, vals map[string]interface{}, prefix string) error {
		base := prefix + c.name + "/templates"
		ctx := map[string]interface{}{
			"Values":       vals,
			"Chart":        chartObject(c),
			"Release":      map[string]interface{}{"Name": release, "Namespace": "default", "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
			"Capabilities": map[string]interface{}{"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30"}},
			"Template":     map[string]interface{}{"BasePath": base},
			"Files":        chartFiles{dir: c.dir},
		}
		files := []string{}
		err := filepath.Walk(filepath.Join(c.dir, "templates"), func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			return err
		}
		sort.Strings(files)
		for _, f := range files {
			rel, _ := filepath.Rel(filepath.Join(c.dir, "templates"), f)
			name := base + "/" + filepath.ToSlash(rel)
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if _, err := t.New(name).Parse(string(data)); err != nil {
				return err
			}
			if !strings.HasPrefix(filepath.Base(f), "_") && filepath.Base(f) != "NOTES.txt" {
				jobs = append(jobs, job{name, ctx})
			}
		}
		for _, dep := range c.deps {
			sub, _ := vals[dep.name].(map[string]interface{})
			if err := walk(dep, sub, base+"/../charts/"); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, root.values(given), ""); err != nil {
		return nil, err
	}
	var out []rendered
	for _, j := range jobs {
		var buf bytes.Buffer
		j.ctx["Template"].(map[string]interface{})["Name"] = j.name
		if err := t.ExecuteTemplate(&buf, j.name, j.ctx); err != nil {
			return nil, err
		}
		out = append(out, rendered{j.name, strings.ReplaceAll(buf.String(), "<no value>", "")})
	}
	return out, nil
}

// chartFiles is Helm's .Files, the part the chart uses: Get reads a file of the chart ("" when missing, as in Helm).
type chartFiles struct{ dir string }

func (f chartFiles) Get(name string) string {
	data, err := os.ReadFile(filepath.Join(f.dir, filepath.FromSlash(name)))
	if err != nil {
		return ""
	}
	return string(data)
}
