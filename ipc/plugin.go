package ipc

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/porthouse/porthouse/proto"
)

// Handshake is the go-plugin handshake between `porthouse supervise` and
// `porthouse puddle`. A puddle started by hand lacks the cookie and refuses
// to run.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "PORTHOUSE_PUDDLE_COOKIE",
	MagicCookieValue: "7c4f1e0a-puddle-d1b9e6",
}

// PluginName is the worker plugin's name in the plugin set.
const PluginName = "puddle"

// WorkerPlugin is the go-plugin definition of a worker: the worker serves
// Impl; the supervisor gets a pb.WorkerClient.
type WorkerPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pb.WorkerServer
}

// GRPCServer implements plugin.GRPCPlugin.
func (p *WorkerPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterWorkerServer(s, p.Impl)
	return nil
}

// GRPCClient implements plugin.GRPCPlugin.
func (p *WorkerPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewWorkerClient(c), nil
}

// Plugins is the plugin set of both sides; impl is nil on the supervisor's.
func Plugins(impl pb.WorkerServer) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &WorkerPlugin{Impl: impl}}
}
