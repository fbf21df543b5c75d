package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/imperalcloud/exthost/internal/config"
	"github.com/imperalcloud/exthost/internal/dispatch"
	"github.com/imperalcloud/exthost/runtime"
)

// SecretEnvName returns the environment variable of app's secret name:
// EXTHOST_SECRET_<APP>_<NAME>, upper case, '-' as '_'.
func SecretEnvName(app, name string) string {
	return config.SecretEnvPrefix + strings.ToUpper(strings.ReplaceAll(app+"_"+name, "-", "_"))
}

// resolveEnv decodes each extension's config and reads its secrets, from
// environ (as os.Environ returns it) or the files under secretsDir. Errors
// name keys and secrets, never values.
func resolveEnv(exts []*runtime.Extension, settings map[string]config.Extension, secretsDir string, environ []string) (map[string]dispatch.Env, error) {
	served := make(map[string]*runtime.Extension, len(exts))
	for _, ext := range exts {
		served[ext.AppID()] = ext
	}
	apps := make([]string, 0, len(settings))
	for app := range settings {
		apps = append(apps, app)
	}
	sort.Strings(apps)
	for _, app := range apps {
		if served[app] == nil {
			return nil, fmt.Errorf("extensions.%s: no such extension is compiled in", app)
		}
	}
	if secretsDir != "" {
		if info, err := os.Stat(secretsDir); err != nil || !info.IsDir() {
			return nil, fmt.Errorf("secrets.dir: %s is not a directory", secretsDir)
		}
	}
	// Two secrets whose variables are spelt alike (app a-b's c and app a's
	// b_c) would read one value: refuse them.
	owners := make(map[string]string)
	for _, ext := range exts {
		for _, s := range ext.Secrets() {
			v, who := SecretEnvName(ext.AppID(), s.Name), ext.AppID()+"/"+s.Name
			if other, taken := owners[v]; taken {
				return nil, fmt.Errorf("the secrets %s and %s would both be read from %s", other, who, v)
			}
			owners[v] = who
		}
	}
	vars := make(map[string]string)
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, config.SecretEnvPrefix) {
			vars[k] = v
		}
	}
	envs := make(map[string]dispatch.Env, len(exts))
	for _, ext := range exts {
		app := ext.AppID()
		var env dispatch.Env
		var raw json.RawMessage
		if c := settings[app].Config; len(c) > 0 {
			var err error
			if raw, err = json.Marshal(c); err != nil {
				return nil, fmt.Errorf("extensions.%s.config: not a map of plain values", app)
			}
		}
		cfg, err := ext.DecodeConfig(raw)
		if err != nil {
			var ce *runtime.ConfigError
			if errors.As(err, &ce) && ce.Key != "" {
				return nil, fmt.Errorf("extensions.%s.config.%s: %s", app, ce.Key, ce.Problem)
			}
			return nil, fmt.Errorf("extensions.%s.config: %w", app, err)
		}
		env.Config = cfg
		for _, s := range ext.Secrets() {
			v, ok, err := readSecret(app, s.Name, vars, secretsDir)
			switch {
			case err != nil:
				return nil, err
			case ok:
				if env.Secrets == nil {
					env.Secrets = make(map[string]string)
				}
				env.Secrets[s.Name] = v
			case s.Required:
				where := SecretEnvName(app, s.Name)
				if secretsDir != "" {
					where += " or the file " + filepath.Join(secretsDir, app, s.Name)
				}
				return nil, fmt.Errorf("extension %s requires the secret %s: set %s", app, s.Name, where)
			}
		}
		envs[app] = env
	}
	return envs, nil
}

// readSecret returns app's secret name: from the environment, else from
// its file (its trailing line break dropped).
func readSecret(app, name string, vars map[string]string, dir string) (string, bool, error) {
	if v, ok := vars[SecretEnvName(app, name)]; ok && v != "" {
		return v, true, nil
	}
	if dir == "" {
		return "", false, nil
	}
	path := filepath.Join(dir, app, name)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("secret %s of %s: the file %s cannot be read", name, app, path)
	}
	v := strings.TrimRight(string(data), "\r\n")
	return v, v != "", nil
}
