package bench

import (
	"fmt"
	"time"
)

// room is one room of the run as the target names it.
type room struct {
	Name string // as the token names it (Porthouse), or room-i (raw target)
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
	Echo            bool          `json:"echo,omitempty"` // every room echoes: a publisher's socket sees its own messages
	Rooms           []roomShare   `json:"rooms"`
	Pubs            []pubShare    `json:"pubs,omitempty"`
	PubIDs          int           `json:"pub_ids"` // publisher ids of the whole run are 0..PubIDs-1
	Size            int           `json:"size"`
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
	Watch     bool   `json:"watch,omitempty"` // the first receiver here acknowledges the local publishers' messages
}

// pubShare is one publisher in one process: the rooms it sends to here
// (indexes into share.Rooms), in turn, with its own window and pace.
type pubShare struct {
	ID       int     `json:"id"`
	Rooms    []int   `json:"rooms"`
	Inflight int     `json:"inflight"`
	Rate     float64 `json:"rate,omitempty"` // messages/s; 0 = as fast as the window allows
}

// sockets is how many sockets the share opens: receivers, plus per
// publisher one socket per room (raw mode) or one joined to all its rooms
// (envelope mode); none for -via http.
func (s *share) sockets() int {
	n := 0
	for _, r := range s.Rooms {
		n += r.Receivers
	}
	for _, p := range s.Pubs {
		n += pubSockets(s.Via, s.Mode, len(p.Rooms))
	}
	return n
}

func pubSockets(via, mode string, rooms int) int {
	switch {
	case via == ViaHTTP:
		return 0
	case mode == ModeEnvelope:
		return 1
	}
	return rooms
}

// publisherRooms lists the rooms publisher j sends to: its own room j%R
// when there are no more rooms than publishers, else a run of about R/P
// rooms, so that every room has a publisher.
func publisherRooms(j, rooms, publishers int) []int {
	if rooms <= publishers {
		return []int{j % rooms}
	}
	lo := (j*rooms + publishers - 1) / publishers
	hi := ((j+1)*rooms + publishers - 1) / publishers
	out := make([]int, 0, hi-lo)
	for r := lo; r < hi; r++ {
		out = append(out, r)
	}
	return out
}

// runSockets is how many sockets a whole run opens (before the split over
// processes, which may add a few publisher sockets).
func runSockets(cfg *Config) int {
	lanes := 0
	if !cfg.Idle {
		lanes = max(cfg.Rooms, cfg.Publishers)
		if cfg.Mode == ModeEnvelope {
			lanes = cfg.Publishers
		}
		if cfg.Via == ViaHTTP {
			lanes = 0
		}
	}
	return cfg.Conns + lanes
}

// planInput is what plan spreads.
type planInput struct {
	rooms      []room
	conns      int
	publishers int
	procs      int
	inflight   int     // per publisher
	rate       float64 // per publisher
	echo       bool
}

// plan spreads the receivers over the rooms (round robin), fills the
// processes one after the other with whole runs of a room's receivers, and
// places each (publisher, room) pair in a process holding receivers of
// that room, so that a receiver in the publisher's own process can tell it
// its messages arrived when it cannot see them itself (no echo, or -via
// http). A publisher whose rooms end up in several processes runs as one
// publisher per process, its window and rate split by rooms.
func plan(base share, in planInput) ([]share, error) {
	nr := len(in.rooms)
	recv := make([]int, nr)
	for r := range recv {
		recv[r] = in.conns / nr
		if r < in.conns%nr {
			recv[r]++
		}
	}
	// alloc[k][r]: receivers of room r in process k.
	alloc := make([][]int, in.procs)
	for k := range alloc {
		alloc[k] = make([]int, nr)
	}
	r, left := 0, recv[0]
	for k := range in.procs {
		quota := in.conns / in.procs
		if k < in.conns%in.procs {
			quota++
		}
		for quota > 0 && r < nr {
			take := min(quota, left)
			alloc[k][r] += take
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
	holders := make([][]int, nr)
	for r := range nr {
		for k := range in.procs {
			if alloc[k][r] > 0 {
				holders[r] = append(holders[r], k)
			}
		}
	}
	shares := make([]share, in.procs)
	local := make([]map[int]int, in.procs) // room → index in shares[k].Rooms
	for k := range shares {
		s := base
		s.Proc, s.Echo, s.Rooms, s.Pubs = k, in.echo, nil, nil
		local[k] = map[int]int{}
		for r := range nr {
			if alloc[k][r] > 0 {
				local[k][r] = len(s.Rooms)
				s.Rooms = append(s.Rooms, roomShare{Name: in.rooms[r].Name, Path: in.rooms[r].Path, Receivers: alloc[k][r]})
			}
		}
		shares[k] = s
	}
	seen := make([]int, nr)
	id := 0
	for j := range in.publishers {
		rooms := publisherRooms(j, nr, in.publishers)
		byProc := map[int][]int{}
		var order []int
		for _, r := range rooms {
			h := holders[r]
			if len(h) == 0 {
				return nil, fmt.Errorf("room %d has no receivers", r)
			}
			k := h[seen[r]%len(h)]
			seen[r]++
			if _, ok := byProc[k]; !ok {
				order = append(order, k)
			}
			byProc[k] = append(byProc[k], local[k][r])
		}
		for _, k := range order {
			part := byProc[k]
			frac := float64(len(part)) / float64(len(rooms))
			p := pubShare{ID: id, Rooms: part, Inflight: max(1, int(float64(in.inflight)*frac+0.5)), Rate: in.rate * frac}
			id++
			shares[k].Pubs = append(shares[k].Pubs, p)
			if base.Via == ViaHTTP || !in.echo {
				for _, ri := range part {
					shares[k].Rooms[ri].Watch = true
				}
			}
		}
	}
	for k := range shares {
		shares[k].PubIDs = id
		if n := shares[k].sockets(); n > MaxConnsPerProcess {
			return nil, usagef("-procs too small: process %d would hold %d sockets (at most %d)", k, n, MaxConnsPerProcess)
		}
	}
	if id > 1<<16 {
		return nil, usagef("too many publishers over processes (%d, at most 65536)", id)
	}
	return shares, nil
}
