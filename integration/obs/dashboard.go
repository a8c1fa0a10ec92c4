package obs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Dashboard is what the checks need of one Grafana dashboard.
type Dashboard struct {
	File      string // base name of the JSON file, for messages
	UID       string
	Title     string
	Inputs    []string // names of __inputs (e.g. DS_PROMETHEUS)
	Panels    []Panel  // all panels, rows' nested panels flattened, rows themselves excluded
	Variables []Variable
}

// Panel is one visualization and its queries.
type Panel struct {
	ID      int
	Title   string
	Type    string
	Targets []Target
}

// Target is one query of a panel.
type Target struct {
	RefID string
	Expr  string
}

// Variable is a dashboard template variable.
type Variable struct {
	Name  string
	Type  string // query, datasource, custom, interval, constant, ...
	Query string // for type query: the Grafana query string
}

type rawDashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Inputs []struct {
		Name string `json:"name"`
	} `json:"__inputs"`
	Panels     []rawPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type rawPanel struct {
	ID      int        `json:"id"`
	Title   string     `json:"title"`
	Type    string     `json:"type"`
	Panels  []rawPanel `json:"panels"` // a collapsed row's children
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
		Hide  bool   `json:"hide"`
	} `json:"targets"`
}

// ParseDashboard decodes a Grafana dashboard JSON document.
func ParseDashboard(data []byte) (*Dashboard, error) {
	var raw rawDashboard
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	if raw.Title == "" {
		return nil, fmt.Errorf("not a dashboard: no title")
	}
	d := &Dashboard{UID: raw.UID, Title: raw.Title}
	for _, in := range raw.Inputs {
		d.Inputs = append(d.Inputs, in.Name)
	}
	var walk func([]rawPanel)
	walk = func(ps []rawPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			panel := Panel{ID: p.ID, Title: p.Title, Type: p.Type}
			for _, t := range p.Targets {
				if t.Hide {
					continue
				}
				panel.Targets = append(panel.Targets, Target{RefID: t.RefID, Expr: t.Expr})
			}
			d.Panels = append(d.Panels, panel)
		}
	}
	walk(raw.Panels)
	for _, v := range raw.Templating.List {
		vr := Variable{Name: v.Name, Type: v.Type}
		if len(v.Query) > 0 {
			// Grafana stores the query as a string or, in newer
			// versions, as {"query": "...", "refId": "..."}.
			var s string
			if err := json.Unmarshal(v.Query, &s); err == nil {
				vr.Query = s
			} else {
				var o struct {
					Query string `json:"query"`
				}
				if err := json.Unmarshal(v.Query, &o); err != nil {
					return nil, fmt.Errorf("variable %q: query is neither a string nor an object: %w", v.Name, err)
				}
				vr.Query = o.Query
			}
		}
		d.Variables = append(d.Variables, vr)
	}
	return d, nil
}

// LoadDashboards parses every *.json file in dir, sorted by file name.
func LoadDashboards(dir string) ([]*Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var ds []*Dashboard
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		d, err := ParseDashboard(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
		d.File = filepath.Base(f)
		ds = append(ds, d)
	}
	return ds, nil
}
