package kubernetes

import (
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// revisionInfo is what a StatefulSet ControllerRevision says about the pods
// created from it.
type revisionInfo struct {
	// Image of the configured container.
	Image string `json:"image,omitempty"`
	// Version by the usual precedence (annotation, label, image tag).
	Version string `json:"version,omitempty"`
}

// revisionVersions maps revision names (the values of status.currentRevision,
// status.updateRevision and the pods' controller-revision-hash label) to
// the image and version of their pod template, decoded from the
// ControllerRevisions' data. Hosts use it to name the version a workload is
// moving away from (CurrentRevision) without reading a pod. Revisions whose
// data cannot be decoded are returned in the error and left out of the map.
func revisionVersions(revs []appsv1.ControllerRevision, cfg Config) (map[string]revisionInfo, error) {
	cfg = cfg.WithDefaults()
	out := make(map[string]revisionInfo, len(revs))
	var firstErr error
	for i := range revs {
		r := &revs[i]
		raw := r.Data.Raw
		if len(raw) == 0 {
			continue
		}
		// The StatefulSet controller stores a patch of the form
		// {"spec":{"template":{"$patch":"replace", ...pod template...}}}.
		var data struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(raw, &data); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("controllerrevision %s: %w", r.Name, err)
			}
			continue
		}
		image, version := templateVersion(&data.Spec.Template, cfg)
		out[r.Name] = revisionInfo{Image: image, Version: version}
	}
	return out, firstErr
}
