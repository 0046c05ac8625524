package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// apiFlags are the flags of commands that talk to a running node.
type apiFlags struct {
	api   string
	token string
}

func (f *apiFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.api, "api", "http://"+defaultAPI, "the node's API URL")
	cmd.Flags().StringVar(&f.token, "api-token", os.Getenv("LATTICE_API_TOKEN"), "the node's API token, if it has one (env LATTICE_API_TOKEN)")
}

// post sends a JSON request to the node and decodes its answer into out.
// API errors come back as failures with the node's message; a node that
// cannot be reached is exitUnreachable.
func (f *apiFlags) post(ctx context.Context, path string, body, out any) error {
	return f.do(ctx, http.MethodPost, path, body, out)
}

// get is post for a GET request (path carries any query).
func (f *apiFlags) get(ctx context.Context, path string, out any) error {
	return f.do(ctx, http.MethodGet, path, nil, out)
}

func (f *apiFlags) do(ctx context.Context, method, path string, body, out any) error {
	base := f.api
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(strings.TrimSuffix(base, "/") + path)
	if err != nil {
		return usageErr("--api %q: %v", f.api, err)
	}
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	var req *http.Request
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, u.String(), rd)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u.String(), nil)
	}
	if err != nil {
		return usageErr("--api %q: %v", f.api, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	defer client.CloseIdleConnections()
	res, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return &exitError{code: exitUnreachable, err: fmt.Errorf("cannot reach the node at %s (is `lattice node` running?): %w", f.api, err)}
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	if res.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if dec.Decode(&e) != nil || e.Error.Message == "" {
			return fmt.Errorf("node answered %s", res.Status)
		}
		code := exitFailure
		if res.StatusCode == http.StatusBadRequest {
			code = exitUsage
		}
		return &exitError{code: code, err: fmt.Errorf("%s (%s)", e.Error.Message, e.Error.Code)}
	}
	return dec.Decode(out)
}
