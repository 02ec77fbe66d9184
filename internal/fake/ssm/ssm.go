// Package ssm is a fake AWS Systems Manager for tests: the SSM API's JSON
// protocol (POST /, X-Amz-Target: AmazonSSM.<Op>, application/x-amz-json-1.1,
// errors as {"__type": ..., "message": ...} with HTTP 400) over a simulated
// fleet of managed nodes that really run the commands sent to them.
//
// Operations, with the shapes and errors the SSM API reference documents:
//
//   - DescribeInstanceInformation: Filters tag:<key>, tag-key, PingStatus,
//     InstanceIds (values OR-ed, filters AND-ed; another key is
//     InvalidFilterKey); MaxResults 5-50 (ValidationException otherwise),
//     pages capped at FleetOptions.PageSize, NextToken (InvalidNextToken
//     when forged). Hosts are listed by instance ID.
//   - SendCommand: DocumentName AWS-RunShellScript only (InvalidDocument),
//     InstanceIds only (1-50; an unknown one is InvalidInstanceId),
//     Parameters commands (required), executionTimeout (1-172800, default
//     3600) and workingDirectory (InvalidParameters otherwise),
//     TimeoutSeconds 30-2592000.
//   - GetCommandInvocation: InvocationDoesNotExist for FleetOptions.Visibility
//     after SendCommand (SSM is eventually consistent) and for an unknown
//     command or instance; then Pending, Delayed (host offline),
//     InProgress, and Success, Failed (exit status ≠ 0; or StatusDetails
//     Undeliverable, ResponseCode -1, for a host offline past
//     FleetOptions.DeliveryTimeout) or TimedOut (StatusDetails "Execution
//     Timed Out", ResponseCode -1, the script killed). StandardOutputContent
//     and StandardErrorContent hold the first 24,000 and 8,000 characters.
//   - ListCommandInvocations: CommandId, InstanceId, Details (CommandPlugins
//     with the first 2,500 characters of output), MaxResults 1-50, NextToken.
//   - Every operation: ThrottlingException ("Rate exceeded") over
//     FleetOptions.Rate; MissingAuthenticationTokenException without a
//     SigV4 Authorization header (the signature is not checked).
//
// # The simulated fleet
//
// Each host has a directory with bin/ (stand-in systemctl and docker, POSIX
// sh) first on PATH, state/ (its units, container, images, chain height,
// faults and event history, in files) and work/ (the working directory).
// A host runs each command the way the SSM agent runs AWS-RunShellScript:
// the "commands" lines joined by newlines, run by /bin/sh (no `set -e`:
// the exit status is the last command's), in its own process group, killed
// at the executionTimeout. So a quoting mistake or a wrong unit name fails
// as it would on a host. Paths outside the stand-ins are the test machine's.
//
// The stand-ins imitate the generated node@.service (one instance per image
// tag, every instance's container named after the coin):
//
//	systemctl start node@T     pull T (from the fleet's registry, else a local
//	                           image; neither: "Job for node@T.service failed
//	                           ...", exit 1, unit failed), StartDelay, then the
//	                           daemon runs: unit active, container <coin> of T.
//	                           Refused the same way (and a conflict event) while
//	                           another instance's container runs. Already
//	                           active: nothing. Any unit but node@<tag>: "Unit
//	                           X.service not found.", exit 5.
//	systemctl stop node@T|'node@*'   deactivating, StopDelay (the daemon flushes;
//	                           never killed), then inactive; the chain height
//	                           is kept on disk. Inactive units: nothing, exit 0.
//	systemctl is-active [-q] U...    the ActiveState per unit; exit 0 when all
//	                           are active, else 3.
//	systemctl list-units [PATTERN] [--state=S,...] [--plain] [--no-legend]
//	                           "node@T.service loaded active running <desc> T
//	                           (coinpipe)" per unit (default: not inactive).
//	systemctl show U -p ActiveState,SubState [--value]; reset-failed; daemon-reload.
//	docker exec <coin> coinpipe-height   the height: the height on disk when the
//	                           daemon started plus one block per BlockInterval;
//	                           bitcoin-cli's "Loading block index" error (exit
//	                           1) during Warmup; no container: "No such
//	                           container", exit 1.
//	docker inspect -f '{{.Config.Image}}'|'{{.State.Running}}' <coin>
//	docker stop [-t N] <coin>  as systemctl stop of the running instance.
//	docker kill|rm -f <coin>   kills the daemon and records a killed event.
//	docker pull REF; docker image inspect REF; docker rm <coin> (refused while it runs).
//
// Anything else exits 64 with "unsupported" on stderr.
//
// # Faults
//
// Host.Fail(f) turns a fault on now, Host.FailAfter(f, n) after the host
// has run n more commands, Host.Clear(f) off: Crash, Stall and Backwards
// (daemons of any tag but FleetOptions.Running), Offline (PingStatus
// ConnectionLost, invocations Delayed then Undeliverable) and Hang (every
// stand-in blocks: the command times out).
//
// # Usage
//
//	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Hosts: 3,
//		Running: "31.0", Registry: []string{"31.1"}, BlockInterval: 100 * time.Millisecond})
//	fleet.Host(1).Fail(fakessm.Crash)
//	client := ssm.New(cfg, ssm.Options{Endpoint: fleet.URL()})
//	... run the rollout ...
//	fleet.Active(0)          // "31.1"
//	fleet.MaxDown()          // most hosts down at once, from fleet.History()
//	fleet.API().Count("GetCommandInvocation")
//
// It is safe for concurrent use.
package ssm

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Target prefix of the SSM JSON protocol.
const targetPrefix = "AmazonSSM."

// Document and plugin the fake runs.
const (
	document = "AWS-RunShellScript"
	plugin   = "aws:runShellScript"
)

// Output limits of GetCommandInvocation and ListCommandInvocations.
const (
	maxStdout       = 24000
	maxStderr       = 8000
	maxPluginOutput = 2500
)

// Request is one request the API answered.
type Request struct {
	At     time.Time
	Op     string // e.g. SendCommand
	Status int
	Error  string // the error's __type, "" on success
}

// Server is the fake SSM API of a Fleet.
type Server struct {
	fleet *Fleet

	mu        sync.Mutex
	commands  map[string]*command
	requests  []Request
	tokens    float64
	refilled  time.Time
	throttled int
}

type command struct {
	id          string
	comment     string
	params      map[string][]string
	instances   []string
	requested   time.Time
	timeout     int32
	invocations map[string]*invocation
}

type invocation struct {
	host              *Host
	visible           time.Time
	status, details   string
	code              int
	stdout, stderr    string
	started, finished time.Time
}

func newServer(f *Fleet) *Server {
	return &Server{fleet: f, commands: map[string]*command{}, refilled: time.Now(), tokens: float64(burst(f.opt))}
}

func burst(o FleetOptions) int {
	if o.Burst > 0 {
		return o.Burst
	}
	return max(1, int(math.Ceil(o.Rate)))
}

// Requests is every request answered, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Count is the number of requests for op ("" for all), throttled ones
// included.
func (s *Server) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if op == "" || r.Op == op {
			n++
		}
	}
	return n
}

// Throttled is the number of requests answered ThrottlingException.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

type apiError struct {
	status int
	typ    string
	msg    string
}

func errorf(typ, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: typ, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op := strings.TrimPrefix(target, targetPrefix)
	var out any
	var aerr *apiError
	switch {
	case r.Method != http.MethodPost || !strings.HasPrefix(target, targetPrefix):
		aerr = errorf("UnknownOperationException", "")
	case !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 "):
		aerr = &apiError{status: http.StatusBadRequest, typ: "MissingAuthenticationTokenException", msg: "Missing Authentication Token"}
	case !s.take():
		aerr = errorf("ThrottlingException", "Rate exceeded")
	default:
		out, aerr = s.dispatch(op, r)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", newID())
	status := http.StatusOK
	var body []byte
	if aerr != nil {
		status = aerr.status
		e := map[string]string{"__type": aerr.typ}
		if aerr.msg != "" {
			e["message"] = aerr.msg
		}
		body, _ = json.Marshal(e)
	} else {
		var err error
		if body, err = json.Marshal(out); err != nil {
			status, body = http.StatusInternalServerError, []byte(`{"__type":"InternalServerError"}`)
		}
	}
	s.mu.Lock()
	req := Request{At: time.Now(), Op: op, Status: status}
	if aerr != nil {
		req.Error = aerr.typ
		if aerr.typ == "ThrottlingException" {
			s.throttled++
		}
	}
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// take spends a token of the rate limit.
func (s *Server) take() bool {
	o := s.fleet.opt
	if o.Rate <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.tokens = min(float64(burst(o)), s.tokens+now.Sub(s.refilled).Seconds()*o.Rate)
	s.refilled = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

func (s *Server) dispatch(op string, r *http.Request) (any, *apiError) {
	decode := func(v any) *apiError {
		if err := json.NewDecoder(r.Body).Decode(v); err != nil {
			return errorf("SerializationException", "reading the request: %v", err)
		}
		return nil
	}
	switch op {
	case "DescribeInstanceInformation":
		var in describeInput
		if err := decode(&in); err != nil {
			return nil, err
		}
		return s.describe(in)
	case "SendCommand":
		var in sendInput
		if err := decode(&in); err != nil {
			return nil, err
		}
		return s.send(in)
	case "GetCommandInvocation":
		var in getInput
		if err := decode(&in); err != nil {
			return nil, err
		}
		return s.get(in)
	case "ListCommandInvocations":
		var in listInput
		if err := decode(&in); err != nil {
			return nil, err
		}
		return s.list(in)
	}
	return nil, errorf("UnknownOperationException", "")
}

type filter struct {
	Key    string
	Values []string
}

type describeInput struct {
	Filters                       []filter
	InstanceInformationFilterList []json.RawMessage
	MaxResults                    *int
	NextToken                     string
}

func (s *Server) describe(in describeInput) (any, *apiError) {
	if len(in.InstanceInformationFilterList) > 0 {
		return nil, errorf("ValidationException", "the fake supports Filters, not the legacy InstanceInformationFilterList")
	}
	size := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 5 || *in.MaxResults > 50 {
			return nil, errorf("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 5 and 50", *in.MaxResults)
		}
		size = *in.MaxResults
	}
	size = min(size, s.fleet.opt.PageSize)
	for _, f := range in.Filters {
		switch {
		case strings.HasPrefix(f.Key, "tag:") && len(f.Key) > 4, f.Key == "tag-key", f.Key == "PingStatus", f.Key == "InstanceIds":
		default:
			return nil, errorf("InvalidFilterKey", "The specified key %s is not valid.", f.Key)
		}
		if len(f.Values) == 0 {
			return nil, errorf("InvalidFilterValue", "The filter %s has no values.", f.Key)
		}
	}
	var match []*Host
	for _, h := range s.fleet.hosts {
		if hostMatches(h, in.Filters) {
			match = append(match, h)
		}
	}
	slices.SortFunc(match, func(a, b *Host) int { return strings.Compare(a.id, b.id) })
	start, err := decodeToken(in.NextToken, len(match))
	if err != nil {
		return nil, err
	}
	end := min(start+size, len(match))
	list := []map[string]any{}
	for _, h := range match[start:end] {
		ping := "Online"
		if !h.Online() {
			ping = "ConnectionLost"
		}
		list = append(list, map[string]any{
			"InstanceId":        h.id,
			"PingStatus":        ping,
			"LastPingDateTime":  epoch(time.Now()),
			"AgentVersion":      "3.3.1142.0",
			"IsLatestVersion":   true,
			"PlatformType":      "Linux",
			"PlatformName":      "Debian GNU/Linux",
			"PlatformVersion":   "12",
			"ResourceType":      "EC2Instance",
			"IPAddress":         fmt.Sprintf("10.0.%d.%d", h.index/250, h.index%250+4),
			"ComputerName":      h.name,
			"AssociationStatus": "Success",
			"SourceId":          h.id,
			"SourceType":        "AWS::EC2::Instance",
		})
	}
	out := map[string]any{"InstanceInformationList": list}
	if end < len(match) {
		out["NextToken"] = encodeToken(end)
	}
	return out, nil
}

func hostMatches(h *Host, filters []filter) bool {
	for _, f := range filters {
		var got []string
		switch {
		case f.Key == "tag-key":
			for k := range h.tags {
				got = append(got, k)
			}
		case strings.HasPrefix(f.Key, "tag:"):
			v, ok := h.tags[strings.TrimPrefix(f.Key, "tag:")]
			if !ok {
				return false
			}
			got = []string{v}
		case f.Key == "PingStatus":
			if h.Online() {
				got = []string{"Online"}
			} else {
				got = []string{"ConnectionLost"}
			}
		case f.Key == "InstanceIds":
			got = []string{h.id}
		}
		if !slices.ContainsFunc(got, func(g string) bool { return slices.Contains(f.Values, g) }) {
			return false
		}
	}
	return true
}

const tokenPrefix = "fakessm:"

func encodeToken(offset int) string {
	return base64.StdEncoding.EncodeToString([]byte(tokenPrefix + strconv.Itoa(offset)))
}

func decodeToken(token string, n int) (int, *apiError) {
	if token == "" {
		return 0, nil
	}
	b, err := base64.StdEncoding.DecodeString(token)
	off, aerr := 0, errorf("InvalidNextToken", "The specified token isn't valid.")
	if err != nil || !strings.HasPrefix(string(b), tokenPrefix) {
		return 0, aerr
	}
	if off, err = strconv.Atoi(strings.TrimPrefix(string(b), tokenPrefix)); err != nil || off < 0 || off > n {
		return 0, aerr
	}
	return off, nil
}

type sendInput struct {
	DocumentName   string
	InstanceIds    []string
	Targets        []json.RawMessage
	Parameters     map[string][]string
	TimeoutSeconds *int
	Comment        string
}

func (s *Server) send(in sendInput) (any, *apiError) {
	if in.DocumentName != document {
		return nil, errorf("InvalidDocument", "Document with name %s does not exist.", in.DocumentName)
	}
	if len(in.Targets) > 0 {
		return nil, errorf("InvalidParameters", "the fake supports InstanceIds, not Targets")
	}
	if len(in.InstanceIds) == 0 || len(in.InstanceIds) > 50 {
		return nil, errorf("ValidationException", "1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: Member must have length between 1 and 50")
	}
	if in.TimeoutSeconds != nil && (*in.TimeoutSeconds < 30 || *in.TimeoutSeconds > 2592000) {
		return nil, errorf("ValidationException", "1 validation error detected: Value '%d' at 'timeoutSeconds' failed to satisfy constraint: Member must have value between 30 and 2592000", *in.TimeoutSeconds)
	}
	for k := range in.Parameters {
		if k != "commands" && k != "executionTimeout" && k != "workingDirectory" {
			return nil, errorf("InvalidParameters", "Parameter %q is not defined in document %s.", k, document)
		}
	}
	if len(in.Parameters["commands"]) == 0 {
		return nil, errorf("InvalidParameters", "Parameters [commands] are required by document %s.", document)
	}
	exec := 3600
	if v := in.Parameters["executionTimeout"]; len(v) > 0 {
		n, err := strconv.Atoi(v[0])
		if len(v) != 1 || err != nil || n < 1 || n > 172800 {
			return nil, errorf("InvalidParameters", "Parameter \"executionTimeout\" %q does not match the allowed pattern.", strings.Join(v, ","))
		}
		exec = n
	}
	dir := ""
	if v := in.Parameters["workingDirectory"]; len(v) > 0 {
		dir = v[0]
	}
	hosts := make([]*Host, 0, len(in.InstanceIds))
	for _, id := range in.InstanceIds {
		i := slices.IndexFunc(s.fleet.hosts, func(h *Host) bool { return h.id == id })
		if i < 0 {
			return nil, errorf("InvalidInstanceId", "Instances [[%s]] not in a valid state for account", id)
		}
		hosts = append(hosts, s.fleet.hosts[i])
	}
	timeout := 3600
	if in.TimeoutSeconds != nil {
		timeout = *in.TimeoutSeconds
	}
	now := time.Now()
	c := &command{
		id: newID(), comment: in.Comment, params: in.Parameters, instances: in.InstanceIds,
		requested: now, timeout: int32(timeout), invocations: map[string]*invocation{},
	}
	script := strings.Join(in.Parameters["commands"], "\n")
	s.mu.Lock()
	s.commands[c.id] = c
	for _, h := range hosts {
		inv := &invocation{host: h, visible: now.Add(s.fleet.opt.Visibility), status: "Pending", details: "Pending", code: -1}
		c.invocations[h.id] = inv
		s.fleet.wg.Go(func() { s.run(inv, script, dir, time.Duration(exec)*time.Second) })
	}
	s.mu.Unlock()
	return map[string]any{"Command": s.commandJSON(c, now)}, nil
}

func (s *Server) commandJSON(c *command, now time.Time) map[string]any {
	return map[string]any{
		"CommandId":         c.id,
		"DocumentName":      document,
		"DocumentVersion":   "$DEFAULT",
		"Comment":           c.comment,
		"ExpiresAfter":      epoch(c.requested.Add(time.Duration(c.timeout) * time.Second)),
		"Parameters":        c.params,
		"InstanceIds":       c.instances,
		"Targets":           []any{},
		"RequestedDateTime": epoch(c.requested),
		"Status":            "Pending",
		"StatusDetails":     "Pending",
		"TargetCount":       len(c.instances),
		"CompletedCount":    0,
		"ErrorCount":        0,
		"TimeoutSeconds":    c.timeout,
		"MaxConcurrency":    "50",
		"MaxErrors":         "0",
	}
}

// run is the agent: it waits for delivery, runs the script, reports.
func (s *Server) run(inv *invocation, script, dir string, timeout time.Duration) {
	o := s.fleet.opt
	if !s.fleet.sleep(o.Visibility) {
		return
	}
	h := inv.host
	if !h.deliver(script) {
		s.set(inv, func() { inv.status, inv.details = "Delayed", "Delayed" })
		deadline := time.Now().Add(o.DeliveryTimeout)
		for !h.Online() {
			if time.Now().After(deadline) {
				s.set(inv, func() { inv.status, inv.details = "Failed", "Undeliverable" })
				return
			}
			if !s.fleet.sleep(20 * time.Millisecond) {
				return
			}
		}
		h.mu.Lock()
		h.commands = append(h.commands, script)
		h.mu.Unlock()
	}
	s.set(inv, func() { inv.status, inv.details, inv.started = "InProgress", "InProgress", time.Now() })
	stdout, stderr, code, timedOut := s.fleet.exec(h, script, dir, timeout)
	s.set(inv, func() {
		inv.finished = time.Now()
		inv.stdout, inv.stderr, inv.code = truncate(stdout, maxStdout), truncate(stderr, maxStderr), code
		switch {
		case timedOut:
			inv.status, inv.details = "TimedOut", "Execution Timed Out"
		case code == 0:
			inv.status, inv.details = "Success", "Success"
		default:
			inv.status, inv.details = "Failed", "Failed"
		}
	})
}

func (s *Server) set(inv *invocation, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

type getInput struct {
	CommandId  string
	InstanceId string
	PluginName string
}

func (s *Server) get(in getInput) (any, *apiError) {
	if len(in.CommandId) != 36 {
		return nil, errorf("InvalidCommandId", "")
	}
	if in.PluginName != "" && in.PluginName != plugin {
		return nil, errorf("InvalidPluginName", "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.commands[in.CommandId]
	if c == nil {
		return nil, errorf("InvocationDoesNotExist", "")
	}
	inv := c.invocations[in.InstanceId]
	if inv == nil || time.Now().Before(inv.visible) {
		return nil, errorf("InvocationDoesNotExist", "")
	}
	out := map[string]any{
		"CommandId":              c.id,
		"InstanceId":             in.InstanceId,
		"Comment":                c.comment,
		"DocumentName":           document,
		"DocumentVersion":        "$DEFAULT",
		"PluginName":             plugin,
		"ResponseCode":           inv.code,
		"ExecutionStartDateTime": isoTime(inv.started),
		"ExecutionEndDateTime":   isoTime(inv.finished),
		"ExecutionElapsedTime":   "",
		"Status":                 inv.status,
		"StatusDetails":          inv.details,
		"StandardOutputContent":  inv.stdout,
		"StandardOutputUrl":      "",
		"StandardErrorContent":   inv.stderr,
		"StandardErrorUrl":       "",
		"CloudWatchOutputConfig": map[string]any{"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": false},
	}
	if !inv.started.IsZero() {
		end := inv.finished
		if end.IsZero() {
			end = time.Now()
		}
		out["ExecutionElapsedTime"] = fmt.Sprintf("PT%.3fS", end.Sub(inv.started).Seconds())
	}
	return out, nil
}

type listInput struct {
	CommandId  string
	InstanceId string
	Details    bool
	MaxResults *int
	NextToken  string
	Filters    []json.RawMessage
}

func (s *Server) list(in listInput) (any, *apiError) {
	if len(in.Filters) > 0 {
		return nil, errorf("ValidationException", "the fake does not support ListCommandInvocations filters")
	}
	size := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, errorf("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50", *in.MaxResults)
		}
		size = *in.MaxResults
	}
	if in.CommandId != "" && len(in.CommandId) != 36 {
		return nil, errorf("InvalidCommandId", "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var cmds []*command
	for _, c := range s.commands {
		if in.CommandId == "" || c.id == in.CommandId {
			cmds = append(cmds, c)
		}
	}
	// Newest first, as SSM lists them.
	slices.SortFunc(cmds, func(a, b *command) int { return b.requested.Compare(a.requested) })
	var all []map[string]any
	now := time.Now()
	for _, c := range cmds {
		for _, id := range c.instances {
			inv := c.invocations[id]
			if (in.InstanceId != "" && id != in.InstanceId) || now.Before(inv.visible) {
				continue
			}
			item := map[string]any{
				"CommandId":         c.id,
				"InstanceId":        id,
				"InstanceName":      inv.host.name,
				"Comment":           c.comment,
				"DocumentName":      document,
				"DocumentVersion":   "$DEFAULT",
				"RequestedDateTime": epoch(c.requested),
				"Status":            inv.status,
				"StatusDetails":     inv.details,
				"StandardOutputUrl": "",
				"StandardErrorUrl":  "",
				"CommandPlugins":    []any{},
			}
			if in.Details {
				output := inv.stdout
				if inv.stderr != "" {
					output += "\n----------ERROR-------\n" + inv.stderr
				}
				item["CommandPlugins"] = []any{map[string]any{
					"Name":          plugin,
					"Status":        inv.status,
					"StatusDetails": inv.details,
					"ResponseCode":  inv.code,
					"Output":        truncate(output, maxPluginOutput),
				}}
			}
			all = append(all, item)
		}
	}
	start, err := decodeToken(in.NextToken, len(all))
	if err != nil {
		return nil, err
	}
	end := min(start+size, len(all))
	out := map[string]any{"CommandInvocations": append([]map[string]any{}, all[start:end]...)}
	if end < len(all) {
		out["NextToken"] = encodeToken(end)
	}
	return out, nil
}

// epoch is the JSON protocol's timestamp: seconds since the epoch.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// newID is a random UUID, as SSM's command IDs are (36 characters).
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
