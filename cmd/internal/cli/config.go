package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/deckhq/deck/manifest"
)

// Globals are the options every command shares.
type Globals struct {
	File    string // the app file, deck.yaml
	Env     string
	Output  string // table or json
	Yes     bool
	NoColor bool
	Builder string // Podman URL to build images on; "" = the first host
	// HostTimeout bounds connecting to a host and each read of it: a host silent for
	// longer is unreachable, and deck says which one and what it was doing.
	HostTimeout time.Duration
	// SSHPersist keeps each ssh connection open this long after its last use, in a
	// background deck process, for the next commands; 0 turns it off.
	SSHPersist time.Duration
}

func (g *Globals) addFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringP("file", "f", "deck.yaml", "the app file")
	f.StringP("env", "e", "", "the environment (default: the only one configured, or the local Podman)")
	f.StringP("output", "o", "table", "output format: table or json")
	f.BoolP("yes", "y", false, "do not ask for confirmation (for CI)")
	f.Bool("no-color", false, "no colour in output (NO_COLOR is honoured too)")
	f.String("builder", "", "Podman URL to build images on, e.g. unix:///run/podman/podman.sock (default: the first host)")
	f.Duration("host-timeout", 10*time.Second, "give up on a host that does not answer within this long")
	f.Duration("ssh-persist", time.Minute, "keep each ssh connection open this long after a command, for the next ones to skip the handshake (0: off)")
	f.String("config", "", "config file (default: $XDG_CONFIG_HOME/deck/config.yaml)")
}

// load fills Globals from flags > DECK_* environment variables > the config file. viper is
// used here and nowhere else: the packages below get plain values.
func (g *Globals) load(cmd *cobra.Command, deps Deps) error {
	v := viper.New()
	v.SetEnvPrefix("DECK")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	for _, key := range []string{"file", "env", "output", "yes", "no-color", "builder", "config", "host-timeout", "ssh-persist"} {
		_ = v.BindEnv(key)
	}
	// DECK_ENV is also the name deck gives the environment inside manifests; as a setting
	// it selects the environment, which is the same thing.
	cmd.Flags().VisitAll(func(f *pflag.Flag) { _ = v.BindPFlag(f.Name, f) })
	cfg := v.GetString("config")
	if cfg == "" {
		if dir, err := os.UserConfigDir(); err == nil {
			if p := filepath.Join(dir, "deck", "config.yaml"); fileExists(p) {
				cfg = p
			}
		}
	}
	if cfg != "" {
		v.SetConfigFile(cfg)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("reading config file %s: %w", cfg, err)
		}
		if err := checkConfigKeys(cmd.Root(), cfg); err != nil {
			return err
		}
	}
	g.File = v.GetString("file")
	g.Env = v.GetString("env")
	g.Output = v.GetString("output")
	g.Yes = v.GetBool("yes")
	g.NoColor = v.GetBool("no-color")
	g.Builder = v.GetString("builder")
	g.HostTimeout = v.GetDuration("host-timeout")
	g.SSHPersist = v.GetDuration("ssh-persist")
	if g.SSHPersist < 0 {
		return flagErrorf("--ssh-persist must be 0 (off) or positive, not %s", g.SSHPersist)
	}
	if g.HostTimeout <= 0 {
		return flagErrorf("--host-timeout must be positive, not %s", g.HostTimeout)
	}
	if g.Output != "table" && g.Output != "json" {
		return flagErrorf("--output must be table or json, not %q", g.Output)
	}
	if g.NoColor {
		deps.IO.DisableColor()
	}
	return nil
}

// checkConfigKeys refuses keys of the config file that are no setting: viper would ignore
// them, and a misspelt `outptu: json` would silently do nothing. The settings are the root
// command's persistent flags, so a flag added there is a valid key at once.
func checkConfigKeys(root *cobra.Command, cfg string) error {
	var valid []string
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) { valid = append(valid, f.Name) })
	sort.Strings(valid)
	// A viper of the file alone: the other one also holds the flags and DECK_* variables.
	file := viper.New()
	file.SetConfigFile(cfg)
	if err := file.ReadInConfig(); err != nil {
		return fmt.Errorf("reading config file %s: %w", cfg, err)
	}
	var problems []string
	for _, key := range file.AllKeys() {
		if slices.Contains(valid, key) {
			continue
		}
		hint := ""
		if s := manifest.Suggest(key, valid); s != "" {
			hint = fmt.Sprintf(" did you mean %q?", s)
		}
		if len(key) > 60 {
			key = key[:60] + "…"
		}
		problems = append(problems, fmt.Sprintf("unknown key %q;%s valid keys: %s", key, hint, strings.Join(valid, ", ")))
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("config file %s: %s", cfg, strings.Join(problems, "\nconfig file "+cfg+": "))
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
