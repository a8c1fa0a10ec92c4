package grafana

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Dashboard is one generated dashboard.
type Dashboard struct {
	File  string // file name in this directory
	UID   string
	Title string
	Desc  string
	// InstanceQuery is the Grafana query of the $instance variable, e.g.
	// label_values(flaredb_kv_requests_total, instance).
	InstanceQuery string
	Rows          []Row
}

// Row is a titled group of panels.
type Row struct {
	Title  string
	Panels []Panel
}

// Panel is one visualization. Kind is "timeseries" (default) or "stat".
type Panel struct {
	Title   string
	Desc    string
	Kind    string
	Unit    string // Grafana unit: s, bytes, Bps, reqps, ops, percentunit, short
	Width   int    // grid columns of 24 (default 12)
	Targets []Target
}

// Target is one PromQL query; Legend is a Grafana legend format.
type Target struct {
	Expr   string
	Legend string
}

// ds is the datasource every panel and query uses: the dashboard's
// $datasource variable, whose default is the DS_PROMETHEUS import input.
var ds = map[string]any{"type": "prometheus", "uid": "${datasource}"}

// JSON renders d as an importable Grafana dashboard.
func (d Dashboard) JSON() ([]byte, error) {
	var panels []any
	// x, y is the next free grid cell; lineH the height of the current
	// line of panels.
	id, x, y, lineH := 1, 0, 0, 0
	for _, r := range d.Rows {
		if x > 0 {
			x, y = 0, y+lineH
		}
		panels = append(panels, map[string]any{
			"id": id, "type": "row", "title": r.Title, "collapsed": false, "panels": []any{},
			"gridPos": map[string]int{"h": 1, "w": 24, "x": 0, "y": y},
		})
		id, y = id+1, y+1
		for _, p := range r.Panels {
			w := p.Width
			if w == 0 {
				w = 12
			}
			h := 8
			if p.Kind == "stat" {
				h = 4
			}
			if x == 0 {
				lineH = 0
			}
			if x+w > 24 {
				x, y, lineH = 0, y+lineH, 0
			}
			lineH = max(lineH, h)
			panels = append(panels, p.json(id, x, y, w, h))
			id, x = id+1, x+w
		}
	}
	doc := map[string]any{
		"__inputs": []any{map[string]any{
			"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "Prometheus scraping FlareDB",
			"type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus",
		}},
		"__requires": []any{
			map[string]any{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "9.0.0"},
			map[string]any{"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
			map[string]any{"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
			map[string]any{"type": "panel", "id": "stat", "name": "Stat", "version": ""},
		},
		"annotations":   map[string]any{"list": []any{}},
		"description":   d.Desc,
		"editable":      true,
		"graphTooltip":  1,
		"id":            nil,
		"links":         []any{},
		"panels":        panels,
		"refresh":       "30s",
		"schemaVersion": 37,
		"tags":          []string{"flaredb"},
		"templating": map[string]any{"list": []any{
			map[string]any{
				"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
				"current": map[string]any{"text": "${DS_PROMETHEUS}", "value": "${DS_PROMETHEUS}"},
				"hide":    0, "refresh": 1, "regex": "", "options": []any{},
			},
			map[string]any{
				"name": "instance", "label": "Instance", "type": "query", "datasource": ds,
				"query":      map[string]any{"query": d.InstanceQuery, "refId": "instance"},
				"definition": d.InstanceQuery,
				"includeAll": true, "multi": true, "allValue": ".*",
				"current": map[string]any{"text": "All", "value": "$__all"},
				"refresh": 2, "sort": 1, "hide": 0, "regex": "", "options": []any{},
			},
		}},
		"time":       map[string]any{"from": "now-1h", "to": "now"},
		"timepicker": map[string]any{},
		"timezone":   "",
		"title":      d.Title,
		"uid":        d.UID,
		"version":    1,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("%s: %w", d.File, err)
	}
	return buf.Bytes(), nil
}

func (p Panel) json(id, x, y, w, h int) map[string]any {
	kind := p.Kind
	if kind == "" {
		kind = "timeseries"
	}
	unit := p.Unit
	if unit == "" {
		unit = "short"
	}
	var targets []any
	for i, t := range p.Targets {
		legend := t.Legend
		if legend == "" {
			legend = "__auto"
		}
		targets = append(targets, map[string]any{
			"refId": string(rune('A' + i)), "datasource": ds, "expr": t.Expr,
			"legendFormat": legend, "range": true, "instant": false,
		})
	}
	out := map[string]any{
		"id": id, "type": kind, "title": p.Title, "description": p.Desc, "datasource": ds,
		"gridPos": map[string]int{"h": h, "w": w, "x": x, "y": y},
		"targets": targets,
		"fieldConfig": map[string]any{
			"defaults":  map[string]any{"unit": unit},
			"overrides": []any{},
		},
	}
	if kind == "stat" {
		out["options"] = map[string]any{
			"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode":     "value", "graphMode": "area", "textMode": "auto",
		}
	} else {
		out["options"] = map[string]any{
			"legend":  map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true},
			"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
		}
	}
	return out
}
