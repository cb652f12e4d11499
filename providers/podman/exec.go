package podman

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/containers/podman/v5/pkg/api/handlers"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/deckhq/deck/providers"
)

// Exec runs a command in a running container through the API's exec endpoints: create the
// session, start it on a connection of its own that the server hijacks (the command's
// streams), then read its exit code.
//
// The start is made here rather than by the bindings' ExecStartAndAttach, which takes the
// terminal from the process's own stdin and stdout (a caller cannot give it streams with
// a TTY), sets raw mode itself, and swaps the shared connection's HTTP transport for its
// own while it runs. Resizes go through the bindings' ResizeExecTTY.
func (h *Host) Exec(ctx context.Context, containerID string, req providers.ExecRequest) (int, error) {
	op := "running a command in container " + shortID(containerID)
	cctx := h.call(ctx)
	cfg := new(handlers.ExecCreateConfig)
	cfg.Cmd = req.Command
	cfg.Tty = req.TTY
	cfg.AttachStdin = req.Stdin != nil
	cfg.AttachStdout = true
	cfg.AttachStderr = true
	id, err := containers.ExecCreate(cctx, containerID, cfg)
	if err != nil {
		return -1, h.wrap(cctx, op, err)
	}
	conn, stream, err := h.execStart(cctx, id, req)
	if err != nil {
		return -1, h.wrap(cctx, op, err)
	}
	defer conn.Close()
	// Cancelling ends the exchange: the connection's close unblocks every read and write.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	if req.TTY {
		// The first size goes with the start; a resize after it covers a server that
		// ignores it there, as the bindings do.
		if req.Size.Width > 0 && req.Size.Height > 0 {
			h.resizeExec(cctx, id, req.Size)
		}
		if req.Resize != nil {
			done := make(chan struct{})
			defer close(done)
			go func() {
				for {
					select {
					case <-done:
						return
					case sz, ok := <-req.Resize:
						if !ok {
							return
						}
						h.resizeExec(cctx, id, sz)
					}
				}
			}()
		}
	}
	if req.Stdin != nil {
		// This goroutine may outlive the call while it waits on a terminal's next key: it
		// writes nothing once the connection is closed.
		go func() {
			_, err := io.Copy(conn, req.Stdin)
			if err == nil {
				// The input's end is the command's stdin's end: a half-close says so.
				if cw, ok := conn.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
				}
			}
		}()
	}
	if req.TTY {
		_, err = io.Copy(req.Stdout, stream)
	} else {
		err = demux(stream, req.Stdout, req.Stderr)
	}
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return -1, h.fail(op, err)
	}
	code, err := h.execExitCode(cctx, id)
	if err != nil {
		return -1, h.wrap(cctx, op, err)
	}
	return code, nil
}

// execStart starts the session on a connection of its own and returns it once the server
// has answered; stream reads what the server sends after its answer.
func (h *Host) execStart(ctx context.Context, id string, req providers.ExecRequest) (net.Conn, io.Reader, error) {
	client, err := bindings.GetClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	conn, err := client.GetDialer(ctx)
	if err != nil {
		return nil, nil, err
	}
	body, err := json.Marshal(handlers.ExecStartConfig{Tty: req.TTY,
		Height: uint16(req.Size.Height), Width: uint16(req.Size.Width)})
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	// v4.0.0: the oldest libpod API with these endpoints as used here, which Podman 4.3
	// serves.
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://d/v4.0.0/libpod/exec/"+id+"/start", bytes.NewReader(body))
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Connection", "Upgrade")
	hreq.Header.Set("Upgrade", "tcp")
	// The answer's headers must come within the call's bounds; the stream after them may
	// take as long as the command runs.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if err := hreq.Write(conn); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, hreq)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != http.StatusOK {
		defer conn.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		model := &errorhandling.ErrorModel{}
		if json.Unmarshal(b, model) != nil || model.Message == "" {
			model.Message = resp.Status + ": " + string(bytes.TrimSpace(b))
		}
		model.ResponseCode = resp.StatusCode
		return nil, nil, model
	}
	return conn, br, nil
}

func (h *Host) resizeExec(ctx context.Context, id string, sz providers.TermSize) {
	// A resize that fails (the command just ended) changes nothing worth reporting.
	_ = containers.ResizeExecTTY(ctx, id, new(containers.ResizeExecTTYOptions).WithWidth(sz.Width).WithHeight(sz.Height))
}

// execExitCode reads the session's exit code once the server has recorded that it ended:
// the stream closes as the process exits, and the session may still read as running for
// a moment after.
func (h *Host) execExitCode(ctx context.Context, id string) (int, error) {
	wait := 5 * time.Millisecond
	deadline := time.Now().Add(providers.DialTimeout)
	for {
		s, err := containers.ExecInspect(ctx, id, nil)
		if err != nil {
			return -1, err
		}
		if !s.Running {
			return s.ExitCode, nil
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("exec session %s still reads as running %v after its output ended", shortID(id), providers.DialTimeout)
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
}

// demux splits the server's multiplexed stream (an 8-byte header per frame: the stream,
// three zero bytes, the length) into stdout and stderr.
func demux(r io.Reader, stdout, stderr io.Writer) error {
	if stderr == nil {
		stderr = io.Discard
	}
	var hdr [8]byte
	buf := make([]byte, 32<<10)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		n := int(binary.BigEndian.Uint32(hdr[4:]))
		if n > len(buf) {
			buf = make([]byte, n)
		}
		frame := buf[:n]
		if _, err := io.ReadFull(r, frame); err != nil {
			return err
		}
		switch hdr[0] {
		case 0, 1: // 0 echoes input another attach typed; it is output all the same
			if _, err := stdout.Write(frame); err != nil {
				return err
			}
		case 2:
			if _, err := stderr.Write(frame); err != nil {
				return err
			}
		case 3:
			return fmt.Errorf("the server: %s", bytes.TrimSpace(frame))
		default:
			return fmt.Errorf("the exec stream lost its framing (stream %d)", hdr[0])
		}
	}
}
