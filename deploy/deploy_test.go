// Package deploy_test checks the deployment files against what the worker does: the
// probes it serves, its shutdown timeout, the settings it reads, the image's user.
// It cannot run Kubernetes or Docker here; it reads the files.
package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"
)

func read(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, v), path)
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Env     []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Ports          []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type podSpec struct {
	TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
		RunAsUser    int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
}

func TestKubernetesBase(t *testing.T) {
	base := filepath.Join("kubernetes", "base")
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	read(t, filepath.Join(base, "kustomization.yaml"), &kust)
	for _, r := range kust.Resources {
		_, err := os.Stat(filepath.Join(base, r))
		require.NoError(t, err, "kustomization lists %s", r)
	}

	var dep struct {
		Spec struct {
			Template struct {
				Spec podSpec `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	read(t, filepath.Join(base, "deployment.yaml"), &dep)
	pod := dep.Spec.Template.Spec
	require.Greater(t, pod.TerminationGracePeriodSeconds, 30, "above the worker's 30 s shutdown timeout")
	require.True(t, pod.SecurityContext.RunAsNonRoot)
	require.Equal(t, 65532, pod.SecurityContext.RunAsUser, "the image's numeric user")
	require.Len(t, pod.Containers, 1)
	w := pod.Containers[0]
	require.Equal(t, "/livez", w.LivenessProbe.HTTPGet.Path)
	require.Equal(t, "/readyz", w.ReadinessProbe.HTTPGet.Path)
	require.Equal(t, "metrics", w.LivenessProbe.HTTPGet.Port)
	require.Equal(t, 9464, w.Ports[0].ContainerPort)
	for _, e := range w.Env {
		require.False(t, strings.HasPrefix(e.Name, "ETL2ELT_CONN_") && !strings.HasSuffix(e.Name, "_FILE"), "%s: DSNs come from mounted secrets (_FILE)", e.Name)
	}

	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	read(t, filepath.Join(base, "configmap.yaml"), &cm)
	require.Equal(t, "false", cm.Data["ETL2ELT_MIGRATE_ON_START"], "the worker runs without DDL rights")
	require.Equal(t, "0.0.0.0:9464", cm.Data["ETL2ELT_METRICS_ADDR"])
	require.Equal(t, "30s", cm.Data["ETL2ELT_SHUTDOWN_TIMEOUT"])
	for k, v := range cm.Data {
		require.NotContains(t, strings.ToLower(k), "password", "no secret in a ConfigMap")
		require.NotContains(t, v, "postgres://", "no DSN in a ConfigMap")
	}

	var job struct {
		Spec struct {
			Template struct {
				Spec podSpec `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	read(t, filepath.Join(base, "init-job.yaml"), &job)
	require.Equal(t, []string{"/usr/local/bin/starter", "init"}, job.Spec.Template.Spec.Containers[0].Command)

	for _, overlay := range []string{"temporal-cloud", "self-hosted"} {
		var k struct {
			Resources []string `yaml:"resources"`
			Patches   []struct {
				Path string `yaml:"path"`
			} `yaml:"patches"`
		}
		read(t, filepath.Join("kubernetes", "overlays", overlay, "kustomization.yaml"), &k)
		require.Equal(t, []string{"../../base"}, k.Resources)
		for _, p := range k.Patches {
			_, err := os.Stat(filepath.Join("kubernetes", "overlays", overlay, p.Path))
			require.NoError(t, err)
		}
	}
}

func TestDockerfileAndCompose(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^USER 65532:65532$`, string(b), "a numeric user: runAsNonRoot cannot check a name")

	var compose struct {
		Services map[string]struct {
			Image           string `yaml:"image"`
			StopGracePeriod string `yaml:"stop_grace_period"`
		} `yaml:"services"`
	}
	read(t, "../docker-compose.yml", &compose)
	unpinned := regexp.MustCompile(`(:latest|^[^:]+)$`)
	for name, s := range compose.Services {
		if s.Image == "" || s.Image == "etl2elt:local" {
			continue
		}
		require.False(t, unpinned.MatchString(s.Image), "service %s: image %s is not pinned", name, s.Image)
	}
	require.Equal(t, "45s", compose.Services["worker"].StopGracePeriod, "longer than the worker's 30 s shutdown")

	script, err := os.ReadFile("compose/temporal/create-namespace.sh")
	require.NoError(t, err)
	require.NotContains(t, string(script), "|| true", "a failed search-attribute registration must stop the setup")
}
