package generator

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// How each shipped daemon decides where RPC listens, modelled from its
// source (the config files' comments and coins/<coin>/SOURCES.md cite it):
// enough to say whether a connection docker forwards from a published port
// reaches the daemon inside the container.
//
// Docker forwards a published port to the container's own address, never to
// its loopback, so the daemon must listen on 0.0.0.0. Connections arrive
// from docker's bridge gateway (172.17.0.1 on the default bridge, the
// userland proxy for the host's loopback) or, with a private
// deploy.rpc_address, from the VPC client itself.
var (
	forwardedFrom = []netip.Addr{netip.MustParseAddr("172.17.0.1"), netip.MustParseAddr("10.0.2.7"), netip.MustParseAddr("192.168.1.7")}
	publicClient  = netip.MustParseAddr("203.0.113.9")
)

// rpcDefaults are the RPC ports the bitcoin-like daemons use without
// rpcport (SOURCES.md of bitcoin, bitcoin-cash, dogecoin, zcash).
var rpcDefaults = map[string]int{"bitcoind": 8332, "dogecoind": 22555, "zcashd": 8232}

// daemonOf names the daemon a command line runs (zcash's goes through sh).
func daemonOf(command []string) string {
	for _, arg := range command {
		for _, word := range strings.Fields(arg) {
			switch base := path.Base(word); base {
			case "bitcoind", "dogecoind", "zcashd", "monerod", "geth":
				return base
			}
		}
	}
	return ""
}

// reachable says why a connection forwarded to container port port would
// not reach the daemon's RPC listener, or nil when it would.
func reachable(daemon string, conf []byte, port int) error {
	switch daemon {
	case "bitcoind", "dogecoind", "zcashd":
		return bitcoinReachable(daemon, conf, port)
	case "monerod":
		return moneroReachable(conf, port)
	case "geth":
		return gethReachable(conf, port)
	}
	return fmt.Errorf("no model of how %q binds RPC: teach this test", daemon)
}

// confValues reads a bitcoin.conf-style file: key=value lines, # comments,
// and [section] headers of which only [main] applies to mainnet.
func confValues(conf []byte) (map[string][]string, error) {
	kv := map[string][]string{}
	section := ""
	for n, line := range strings.Split(string(conf), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: %q is not key=value", n+1, line)
			}
			if section == "" || section == "main" {
				kv[strings.TrimSpace(k)] = append(kv[strings.TrimSpace(k)], strings.TrimSpace(v))
			}
		}
	}
	return kv, nil
}

// bitcoinReachable follows httpserver.cpp's HTTPBindAddresses: rpcbind
// counts only together with rpcallowip, else RPC stays on loopback; and
// InitHTTPAllowList: only 127.0.0.0/8, ::1 and rpcallowip may connect.
func bitcoinReachable(daemon string, conf []byte, port int) error {
	kv, err := confValues(conf)
	if err != nil {
		return err
	}
	rpcport := rpcDefaults[daemon]
	if p := kv["rpcport"]; len(p) > 0 {
		if rpcport, err = strconv.Atoi(p[len(p)-1]); err != nil {
			return fmt.Errorf("rpcport %q: %w", p[len(p)-1], err)
		}
	}
	if len(kv["rpcbind"]) == 0 || len(kv["rpcallowip"]) == 0 {
		return fmt.Errorf("%s listens on its loopback only: rpcbind and rpcallowip must both be set", daemon)
	}
	bound := false
	for _, b := range kv["rpcbind"] {
		host, p := b, rpcport
		if h, ps, ok := strings.Cut(b, ":"); ok {
			host = h
			if p, err = strconv.Atoi(ps); err != nil {
				return fmt.Errorf("rpcbind %q: %w", b, err)
			}
		}
		bound = bound || (host == "0.0.0.0" && p == port)
	}
	if !bound {
		return fmt.Errorf("%s binds RPC to %q, not 0.0.0.0:%d", daemon, kv["rpcbind"], port)
	}
	var allow []netip.Prefix
	for _, a := range kv["rpcallowip"] {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			addr, aerr := netip.ParseAddr(a)
			if aerr != nil {
				return fmt.Errorf("rpcallowip %q: %w", a, err)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		allow = append(allow, p)
	}
	covered := func(a netip.Addr) bool {
		return slices.ContainsFunc(allow, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	for _, from := range forwardedFrom {
		if !covered(from) {
			return fmt.Errorf("rpcallowip %q refuses %s, where forwarded connections come from", kv["rpcallowip"], from)
		}
	}
	if covered(publicClient) {
		return fmt.Errorf("rpcallowip %q admits the public address %s", kv["rpcallowip"], publicClient)
	}
	return nil
}

// moneroReachable follows monerod's rpc_args: rpc-bind-ip (default
// 127.0.0.1) and rpc-bind-port (default 18081); a bind outside loopback
// without rpc-login needs confirm-external-bind or monerod will not start.
func moneroReachable(conf []byte, port int) error {
	kv, err := confValues(conf)
	if err != nil {
		return err
	}
	last := func(k, def string) string {
		if v := kv[k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return def
	}
	ip, p := last("rpc-bind-ip", "127.0.0.1"), last("rpc-bind-port", "18081")
	if ip != "0.0.0.0" || p != strconv.Itoa(port) {
		return fmt.Errorf("monerod binds RPC to %s:%s, not 0.0.0.0:%d", ip, p, port)
	}
	if last("confirm-external-bind", "0") != "1" && last("rpc-login", "") == "" {
		return fmt.Errorf("monerod refuses rpc-bind-ip=0.0.0.0 without confirm-external-bind=1")
	}
	return nil
}

// gethReachable follows geth's node.Config: HTTP on HTTPHost:HTTPPort
// (off when HTTPHost is empty) behind the HTTPVirtualHosts check (default
// localhost; IP addresses always pass), the Engine API on
// AuthAddr:AuthPort (default localhost:8551).
func gethReachable(conf []byte, port int) error {
	node, err := tomlSection(conf, "Node")
	if err != nil {
		return err
	}
	get := func(k, def string) string {
		if v, ok := node[k]; ok {
			return v
		}
		return def
	}
	switch strconv.Itoa(port) {
	case get("HTTPPort", "8545"):
		host := strings.Trim(get("HTTPHost", `""`), `"`)
		if host != "0.0.0.0" {
			return fmt.Errorf("geth serves HTTP on %q, not 0.0.0.0:%d", host, port)
		}
		if vh := get("HTTPVirtualHosts", `["localhost"]`); !strings.Contains(vh, `"localhost"`) && !strings.Contains(vh, `"*"`) {
			return fmt.Errorf("HTTPVirtualHosts %s refuses a client on the host asking for localhost:%d", vh, port)
		}
	case get("AuthPort", "8551"):
		if host := strings.Trim(get("AuthAddr", `"localhost"`), `"`); host != "0.0.0.0" {
			return fmt.Errorf("geth serves the Engine API on %q, not 0.0.0.0:%d", host, port)
		}
	default:
		return fmt.Errorf("geth serves no RPC on port %d", port)
	}
	return nil
}

// tomlSection reads the Key = value lines of one [section] of a flat TOML
// file, values as written; it refuses anything else it meets there.
func tomlSection(conf []byte, want string) (map[string]string, error) {
	kv := map[string]string{}
	section := ""
	for n, line := range strings.Split(string(conf), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		case section == want:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: %q is not Key = value", n+1, line)
			}
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return kv, nil
}

// For every shipped coin, each port outside p2p is published on
// deploy.rpc_address only, and the rendered config makes the daemon listen
// where that published port leads: container-wide, admitting the addresses
// docker forwards from.
func TestRPCAnswersWherePublished(t *testing.T) {
	for _, c := range renderAll(t, "../coins") {
		t.Run(c.m.Name, func(t *testing.T) {
			daemon := daemonOf(c.m.Runtime.Command)
			if len(c.m.Runtime.Config) != 1 {
				t.Fatalf("%d config files; this test reads exactly one", len(c.m.Runtime.Config))
			}
			conf := c.files[c.m.Runtime.Config[0].File]
			published := map[string]string{} // container port -> host address
			for _, p := range flagValues(dockerRun(t, c.files["node@.service"]), "--publish") {
				parts := strings.Split(p, ":")
				addr := ""
				if len(parts) == 3 {
					addr = parts[0]
				}
				published[parts[len(parts)-1]] = addr
			}
			checked := 0
			for group, ports := range c.m.Runtime.Ports {
				if group == "p2p" {
					continue
				}
				for _, port := range ports {
					addr, ok := published[port.String()]
					if !ok || addr != c.m.Deploy.RPCAddress {
						t.Errorf("%s port %s published on %q, want %s only", group, port, addr, c.m.Deploy.RPCAddress)
					}
					if err := reachable(daemon, conf, port.Number); err != nil {
						t.Errorf("%s port %s is published but the daemon does not answer there: %v", group, port, err)
					}
					checked++
				}
			}
			if checked == 0 {
				t.Error("no port outside p2p: nothing to check")
			}
		})
	}
}

// The model itself tells a config that answers from one that does not: the
// shipped configs as they were before issue 8 kept RPC on the container's
// loopback.
func TestRPCModelRefusesLoopbackConfigs(t *testing.T) {
	tests := []struct {
		daemon, conf string
		port         int
		want         string
	}{
		{"bitcoind", "server=1\n#rpcbind=0.0.0.0\n#rpcallowip=172.16.0.0/12\n", 8332,
			"bitcoind listens on its loopback only: rpcbind and rpcallowip must both be set"},
		{"bitcoind", "rpcbind=0.0.0.0\n", 8332,
			"bitcoind listens on its loopback only: rpcbind and rpcallowip must both be set"},
		{"dogecoind", "rpcbind=127.0.0.1\nrpcallowip=172.16.0.0/12\n", 22555,
			`dogecoind binds RPC to ["127.0.0.1"], not 0.0.0.0:22555`},
		{"bitcoind", "rpcbind=0.0.0.0\nrpcallowip=172.16.0.0/12\n", 8332,
			`rpcallowip ["172.16.0.0/12"] refuses 10.0.2.7, where forwarded connections come from`},
		{"zcashd", "rpcbind=0.0.0.0\nrpcallowip=0.0.0.0/0\n", 8232,
			`rpcallowip ["0.0.0.0/0"] admits the public address 203.0.113.9`},
		{"bitcoind", "rpcbind=0.0.0.0\nrpcallowip=10.0.0.0/8\nrpcallowip=172.16.0.0/12\nrpcallowip=192.168.0.0/16\nrpcport=18332\n", 8332,
			`bitcoind binds RPC to ["0.0.0.0"], not 0.0.0.0:8332`},
		{"bitcoind", "[test]\nrpcbind=0.0.0.0\nrpcallowip=10.0.0.0/8\n", 8332,
			"bitcoind listens on its loopback only: rpcbind and rpcallowip must both be set"},
		{"monerod", "rpc-bind-ip=127.0.0.1\nrpc-bind-port=18081\n", 18081,
			"monerod binds RPC to 127.0.0.1:18081, not 0.0.0.0:18081"},
		{"monerod", "rpc-bind-ip=0.0.0.0\n", 18081,
			"monerod refuses rpc-bind-ip=0.0.0.0 without confirm-external-bind=1"},
		{"geth", "[Node]\nHTTPHost = \"127.0.0.1\"\nHTTPPort = 8545\n", 8545,
			`geth serves HTTP on "127.0.0.1", not 0.0.0.0:8545`},
		{"geth", "[Node]\nHTTPHost = \"0.0.0.0\"\nHTTPVirtualHosts = [\"node.internal\"]\n", 8545,
			`HTTPVirtualHosts ["node.internal"] refuses a client on the host asking for localhost:8545`},
		{"geth", "[Node]\nHTTPHost = \"0.0.0.0\"\n", 8551,
			`geth serves the Engine API on "localhost", not 0.0.0.0:8551`},
		{"geth", "[Node.P2P]\nHTTPHost = \"0.0.0.0\"\n", 8545,
			`geth serves HTTP on "", not 0.0.0.0:8545`},
		{"litecoind", "", 9332, `no model of how "litecoind" binds RPC: teach this test`},
	}
	for _, tt := range tests {
		t.Run(tt.daemon+"/"+tt.want, func(t *testing.T) {
			err := reachable(tt.daemon, []byte(tt.conf), tt.port)
			if err == nil || err.Error() != tt.want {
				t.Errorf("reachable: %v, want %q", err, tt.want)
			}
		})
	}
}
