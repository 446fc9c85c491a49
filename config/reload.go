package config

// Reloadable compares two configurations field by field and returns the
// TOML keys that differ: changed holds those a running server applies live
// (allowed origins, sign-up, sizes, rate limits, timeouts, log level);
// needRestart holds those that take effect only after a restart (listen,
// data_dir, workers, log_json, max_connections_per_process,
// route_sync_interval). The config
// file path and the admin password (used only on first start) are not
// compared.
func Reloadable(old, new Config) (changed, needRestart []string) {
	for _, f := range fields {
		if f.value(&old).String() == f.value(&new).String() {
			continue
		}
		if f.live {
			changed = append(changed, f.key)
		} else {
			needRestart = append(needRestart, f.key)
		}
	}
	return changed, needRestart
}
