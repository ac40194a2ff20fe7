package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/converter"

	"etl2elt/internal/codec"
)

// newCodecServerCommand serves the payload codec over HTTP for the Temporal Web UI
// and CLI (--codec-endpoint), so that a person can read encrypted payloads.
func newCodecServerCommand() *cobra.Command {
	var listen, origin string
	cmd := &cobra.Command{
		Use:   "codec-server [--listen 127.0.0.1:8081] [--ui-origin http://127.0.0.1:8233]",
		Short: "Serve the payload codec (ETL2ELT_PAYLOAD_KEY) to the Temporal Web UI and CLI",
		Long: `codec-server decodes (and encodes) workflow payloads encrypted with ETL2ELT_PAYLOAD_KEY
for the Temporal Web UI (Settings → Codec Server → http://127.0.0.1:8081) and the CLI
(temporal workflow show --codec-endpoint http://127.0.0.1:8081 ...). It listens on
loopback by default: whoever reaches it reads every payload.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := codec.FromEnv(os.Getenv)
			if err != nil {
				return err
			}
			if c == nil {
				return &usageError{errors.New("ETL2ELT_PAYLOAD_KEY is not set: payloads are not encrypted, there is nothing to decode")}
			}
			handler := converter.NewPayloadCodecHTTPHandler(c)
			mux := http.NewServeMux()
			mux.Handle("/", withCORS(origin, handler))
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("codec server: %w", err)
			}
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(cmd.OutOrStdout(), "codec server on http://%s (UI origin %s)\n", ln.Addr(), origin)
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("codec server: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8081", "address to listen on")
	cmd.Flags().StringVar(&origin, "ui-origin", "http://127.0.0.1:8233", "the Web UI's origin, allowed by CORS")
	return cmd
}

// withCORS lets the Web UI (another origin) call the codec server.
func withCORS(origin string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type,X-Namespace,Authorization")
		w.Header().Set("Access-Control-Allow-Methods", "POST,OPTIONS")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}
