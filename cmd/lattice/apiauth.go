package main

import (
	"io"
	"os"
	"runtime"
	"strings"
)

// apiToken chooses the API token: --api-token, else --api-token-file,
// else the environment variable LATTICE_API_TOKEN. A token on the command
// line is visible to every local user in the process list; the file and
// the variable are not. A token file its group or others may read is
// refused, as ssh refuses such a key.
func apiToken(flag, file string) (string, error) {
	switch {
	case flag != "" && file != "":
		return "", usageErr("give --api-token or --api-token-file, not both")
	case flag != "":
		return flag, nil
	case file != "":
		return readTokenFile(file)
	}
	return os.Getenv("LATTICE_API_TOKEN"), nil
}

// readTokenFile reads a token file: its first line, trimmed.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", usageErr("--api-token-file: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", usageErr("--api-token-file: %v", err)
	}
	if perm := st.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return "", usageErr("--api-token-file: permissions %04o for %s are too open; other users could read the token: run \"chmod 600 %s\"", perm, path, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", usageErr("--api-token-file: %v", err)
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", usageErr("--api-token-file: %s is empty", path)
	}
	return tok, nil
}
