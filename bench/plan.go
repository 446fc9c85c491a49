package bench

import (
	"fmt"
	"time"
)

// room is one room of the run as the target names it.
type room struct {
	Name string // as the token names it (Porthouse) or "" (raw target)
	Path string // path and query a socket of this room dials
	Echo bool   // a publisher's socket receives its own messages
}

// share is one client process's part of a run: its connections and
// publishers. It travels to a child process as JSON.
type share struct {
	Proc            int           `json:"proc"`
	URL             string        `json:"url"` // ws://host:port
	Token           string        `json:"token,omitempty"`
	Mode            string        `json:"mode"`
	Via             string        `json:"via"`
	HTTPURL         string        `json:"http_url,omitempty"` // http://host:port for -via http
	APIKey          string        `json:"api_key,omitempty"`
	Rooms           []roomShare   `json:"rooms"`
	Publishers      int           `json:"publishers"` // in the whole run: publisher ids are 0..Publishers-1
	Size            int           `json:"size"`
	Inflight        int           `json:"inflight"`
	PubRate         float64       `json:"pub_rate,omitempty"` // messages/s per publisher; 0 = window only
	Idle            bool          `json:"idle,omitempty"`
	Nonce           uint16        `json:"nonce"`
	SourceIPs       int           `json:"source_ips"`
	DialConcurrency int           `json:"dial_concurrency"`
	DialTimeout     time.Duration `json:"dial_timeout"`
	ConnectTimeout  time.Duration `json:"connect_timeout"`
}

// roomShare is one room's part in one process.
type roomShare struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	Receivers int    `json:"receivers"`
	Pubs      []int  `json:"pubs,omitempty"`  // publisher ids sending to this room from this process
	Echo      bool   `json:"echo,omitempty"`  // publishers see their own messages
	Watch     bool   `json:"watch,omitempty"` // the first receiver here acknowledges the local publishers
}

// sockets is how many sockets the share opens.
func (s *share) sockets() int {
	n := 0
	for _, r := range s.Rooms {
		n += r.Receivers
		if s.Via == ViaWS {
			n += len(r.Pubs)
		}
	}
	return n
}

// plan spreads conns receivers over rooms (round robin: room i%len(rooms)),
// fills the processes one after the other with whole runs of a room's
// receivers, and gives each publisher (room j%len(rooms)) to a process that
// holds receivers of its room, so that when the publisher cannot see its
// own messages (no echo, or -via http) a receiver in its own process can
// tell it that they arrived.
func plan(base share, rooms []room, conns, publishers, procs int, via string) ([]share, error) {
	nr := len(rooms)
	recv := make([]int, nr)
	for r := range recv {
		recv[r] = conns / nr
		if r < conns%nr {
			recv[r]++
		}
	}
	// alloc[k][r]: receivers of room r in process k.
	alloc := make([][]int, procs)
	for k := range alloc {
		alloc[k] = make([]int, nr)
	}
	r := 0
	left := recv[0]
	for p := 0; p < procs; p++ {
		quota := conns / procs
		if p < conns%procs {
			quota++
		}
		for quota > 0 && r < nr {
			take := min(quota, left)
			alloc[p][r] += take
			quota -= take
			left -= take
			if left == 0 {
				r++
				if r < nr {
					left = recv[r]
				}
			}
		}
	}
	// Publishers: to the processes holding the room, round robin among them.
	pubs := make([][][]int, procs) // pubs[k][r]
	for k := range pubs {
		pubs[k] = make([][]int, nr)
	}
	holders := make([][]int, nr)
	for r := range nr {
		for k := range procs {
			if alloc[k][r] > 0 {
				holders[r] = append(holders[r], k)
			}
		}
	}
	seen := make([]int, nr)
	for j := range publishers {
		r := j % nr
		h := holders[r]
		if len(h) == 0 {
			return nil, fmt.Errorf("room %d has no receivers", r)
		}
		k := h[seen[r]%len(h)]
		seen[r]++
		pubs[k][r] = append(pubs[k][r], j)
	}
	shares := make([]share, procs)
	for k := range procs {
		s := base
		s.Proc = k
		s.Publishers = publishers
		s.Rooms = nil
		for r := range nr {
			if alloc[k][r] == 0 && len(pubs[k][r]) == 0 {
				continue
			}
			rs := roomShare{Name: rooms[r].Name, Path: rooms[r].Path, Receivers: alloc[k][r], Pubs: pubs[k][r], Echo: rooms[r].Echo}
			rs.Watch = len(rs.Pubs) > 0 && (via == ViaHTTP || !rs.Echo)
			s.Rooms = append(s.Rooms, rs)
		}
		if n := s.sockets(); n > MaxConnsPerProcess {
			return nil, usagef("-procs too small: process %d would hold %d sockets (at most %d)", k, n, MaxConnsPerProcess)
		}
		shares[k] = s
	}
	return shares, nil
}
