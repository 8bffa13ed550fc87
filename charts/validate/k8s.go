package main

// Typed Kubernetes objects for the kinds the chart renders, field names and types as in the Kubernetes API
// (k8s.io/api v1.30). Debian packages no typed Kubernetes client for Go, so these are written out here; decoding with
// KnownFields(true) rejects any field the real API would not know, and wrong types fail to decode.

import (
	"fmt"

	yaml "gopkg.in/yaml.v3"
)

// IntOrString is a port or similar: an integer or a name.
type IntOrString struct {
	IsInt bool
	Int   int
	Str   string
}

func (v *IntOrString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: int-or-string expected", n.Line)
	}
	if n.Tag == "!!int" {
		v.IsInt = true
		return n.Decode(&v.Int)
	}
	if n.Tag == "!!str" {
		return n.Decode(&v.Str)
	}
	return fmt.Errorf("line %d: int-or-string expected, got %s", n.Line, n.Tag)
}

type ObjectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type TypeMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
}

type LabelSelectorRequirement struct {
	Key      string   `yaml:"key"`
	Operator string   `yaml:"operator"`
	Values   []string `yaml:"values"`
}

type LabelSelector struct {
	MatchLabels      map[string]string          `yaml:"matchLabels"`
	MatchExpressions []LabelSelectorRequirement `yaml:"matchExpressions"`
}

type KeySelector struct {
	Name     string `yaml:"name"`
	Key      string `yaml:"key"`
	Optional *bool  `yaml:"optional"`
}

type ObjectFieldSelector struct {
	APIVersion string `yaml:"apiVersion"`
	FieldPath  string `yaml:"fieldPath"`
}

type EnvVarSource struct {
	SecretKeyRef    *KeySelector         `yaml:"secretKeyRef"`
	ConfigMapKeyRef *KeySelector         `yaml:"configMapKeyRef"`
	FieldRef        *ObjectFieldSelector `yaml:"fieldRef"`
}

type EnvVar struct {
	Name      string        `yaml:"name"`
	Value     *string       `yaml:"value"`
	ValueFrom *EnvVarSource `yaml:"valueFrom"`
}

type ContainerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
	Protocol      string `yaml:"protocol"`
}

type HTTPGetAction struct {
	Path   string      `yaml:"path"`
	Port   IntOrString `yaml:"port"`
	Scheme string      `yaml:"scheme"`
}

type Probe struct {
	HTTPGet             *HTTPGetAction `yaml:"httpGet"`
	InitialDelaySeconds int            `yaml:"initialDelaySeconds"`
	PeriodSeconds       int            `yaml:"periodSeconds"`
	TimeoutSeconds      int            `yaml:"timeoutSeconds"`
	FailureThreshold    int            `yaml:"failureThreshold"`
	SuccessThreshold    int            `yaml:"successThreshold"`
}

type ResourceRequirements struct {
	Requests map[string]string `yaml:"requests"`
	Limits   map[string]string `yaml:"limits"`
}

type Capabilities struct {
	Add  []string `yaml:"add"`
	Drop []string `yaml:"drop"`
}

type SeccompProfile struct {
	Type             string `yaml:"type"`
	LocalhostProfile string `yaml:"localhostProfile"`
}

type SecurityContext struct {
	RunAsNonRoot             *bool           `yaml:"runAsNonRoot"`
	RunAsUser                *int64          `yaml:"runAsUser"`
	RunAsGroup               *int64          `yaml:"runAsGroup"`
	AllowPrivilegeEscalation *bool           `yaml:"allowPrivilegeEscalation"`
	ReadOnlyRootFilesystem   *bool           `yaml:"readOnlyRootFilesystem"`
	Privileged               *bool           `yaml:"privileged"`
	Capabilities             *Capabilities   `yaml:"capabilities"`
	SeccompProfile           *SeccompProfile `yaml:"seccompProfile"`
}

type PodSecurityContext struct {
	RunAsNonRoot   *bool           `yaml:"runAsNonRoot"`
	RunAsUser      *int64          `yaml:"runAsUser"`
	RunAsGroup     *int64          `yaml:"runAsGroup"`
	FSGroup        *int64          `yaml:"fsGroup"`
	SeccompProfile *SeccompProfile `yaml:"seccompProfile"`
}

type VolumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	ReadOnly  bool   `yaml:"readOnly"`
	SubPath   string `yaml:"subPath"`
}

type Container struct {
	Name            string                `yaml:"name"`
	Image           string                `yaml:"image"`
	ImagePullPolicy string                `yaml:"imagePullPolicy"`
	Command         []string              `yaml:"command"`
	Args            []string              `yaml:"args"`
	Ports           []ContainerPort       `yaml:"ports"`
	Env             []EnvVar              `yaml:"env"`
	Resources       *ResourceRequirements `yaml:"resources"`
	SecurityContext *SecurityContext      `yaml:"securityContext"`
	VolumeMounts    []VolumeMount         `yaml:"volumeMounts"`
	StartupProbe    *Probe                `yaml:"startupProbe"`
	LivenessProbe   *Probe                `yaml:"livenessProbe"`
	ReadinessProbe  *Probe                `yaml:"readinessProbe"`
}

type KeyToPath struct {
	Key  string `yaml:"key"`
	Path string `yaml:"path"`
}

type ConfigMapVolumeSource struct {
	Name        string      `yaml:"name"`
	Items       []KeyToPath `yaml:"items"`
	DefaultMode *int        `yaml:"defaultMode"`
}

type SecretVolumeSource struct {
	SecretName  string      `yaml:"secretName"`
	Items       []KeyToPath `yaml:"items"`
	DefaultMode *int        `yaml:"defaultMode"`
	Optional    *bool       `yaml:"optional"`
}

type EmptyDirVolumeSource struct {
	Medium    string `yaml:"medium"`
	SizeLimit string `yaml:"sizeLimit"`
}

type Volume struct {
	Name      string                 `yaml:"name"`
	ConfigMap *ConfigMapVolumeSource `yaml:"configMap"`
	Secret    *SecretVolumeSource    `yaml:"secret"`
	EmptyDir  *EmptyDirVolumeSource  `yaml:"emptyDir"`
}

type LocalObjectReference struct {
	Name string `yaml:"name"`
}

type Toleration struct {
	Key               string `yaml:"key"`
	Operator          string `yaml:"operator"`
	Value             string `yaml:"value"`
	Effect            string `yaml:"effect"`
	TolerationSeconds *int64 `yaml:"tolerationSeconds"`
}

type TopologySpreadConstraint struct {
	MaxSkew           int            `yaml:"maxSkew"`
	TopologyKey       string         `yaml:"topologyKey"`
	WhenUnsatisfiable string         `yaml:"whenUnsatisfiable"`
	LabelSelector     *LabelSelector `yaml:"labelSelector"`
}

type PodSpec struct {
	Containers                    []Container                `yaml:"containers"`
	InitContainers                []Container                `yaml:"initContainers"`
	Volumes                       []Volume                   `yaml:"volumes"`
	SecurityContext               *PodSecurityContext        `yaml:"securityContext"`
	ServiceAccountName            string                     `yaml:"serviceAccountName"`
	AutomountServiceAccountToken  *bool                      `yaml:"automountServiceAccountToken"`
	TerminationGracePeriodSeconds *int64                     `yaml:"terminationGracePeriodSeconds"`
	ImagePullSecrets              []LocalObjectReference     `yaml:"imagePullSecrets"`
	NodeSelector                  map[string]string          `yaml:"nodeSelector"`
	Affinity                      map[string]interface{}     `yaml:"affinity"`
	Tolerations                   []Toleration               `yaml:"tolerations"`
	TopologySpreadConstraints     []TopologySpreadConstraint `yaml:"topologySpreadConstraints"`
	RestartPolicy                 string                     `yaml:"restartPolicy"`
}

type PodTemplateSpec struct {
	Metadata ObjectMeta `yaml:"metadata"`
	Spec     PodSpec    `yaml:"spec"`
}

type RollingUpdateDeployment struct {
	MaxUnavailable *IntOrString `yaml:"maxUnavailable"`
	MaxSurge       *IntOrString `yaml:"maxSurge"`
}

type DeploymentStrategy struct {
	Type          string                   `yaml:"type"`
	RollingUpdate *RollingUpdateDeployment `yaml:"rollingUpdate"`
}

type Deployment struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta `yaml:"metadata"`
	Spec     struct {
		Replicas             *int               `yaml:"replicas"`
		RevisionHistoryLimit *int               `yaml:"revisionHistoryLimit"`
		Selector             LabelSelector      `yaml:"selector"`
		Strategy             DeploymentStrategy `yaml:"strategy"`
		Template             PodTemplateSpec    `yaml:"template"`
	} `yaml:"spec"`
}

type Pod struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta `yaml:"metadata"`
	Spec     PodSpec    `yaml:"spec"`
}

type ServicePort struct {
	Name       string      `yaml:"name"`
	Port       int         `yaml:"port"`
	TargetPort IntOrString `yaml:"targetPort"`
	Protocol   string      `yaml:"protocol"`
}

type Service struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta `yaml:"metadata"`
	Spec     struct {
		Type     string            `yaml:"type"`
		Selector map[string]string `yaml:"selector"`
		Ports    []ServicePort     `yaml:"ports"`
	} `yaml:"spec"`
}

type ConfigMap struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta        `yaml:"metadata"`
	Data     map[string]string `yaml:"data"`
}

type Secret struct {
	TypeMeta   `yaml:",inline"`
	Metadata   ObjectMeta        `yaml:"metadata"`
	Type       string            `yaml:"type"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
}

type ServiceAccount struct {
	TypeMeta                     `yaml:",inline"`
	Metadata                     ObjectMeta `yaml:"metadata"`
	AutomountServiceAccountToken *bool      `yaml:"automountServiceAccountToken"`
}

type HorizontalPodAutoscaler struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta `yaml:"metadata"`
	Spec     struct {
		ScaleTargetRef struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Name       string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicas *int `yaml:"minReplicas"`
		MaxReplicas int  `yaml:"maxReplicas"`
		Metrics     []struct {
			Type     string `yaml:"type"`
			Resource *struct {
				Name   string `yaml:"name"`
				Target struct {
					Type               string `yaml:"type"`
					AverageUtilization *int   `yaml:"averageUtilization"`
					AverageValue       string `yaml:"averageValue"`
				} `yaml:"target"`
			} `yaml:"resource"`
		} `yaml:"metrics"`
	} `yaml:"spec"`
}

type PodDisruptionBudget struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta `yaml:"metadata"`
	Spec     struct {
		MinAvailable   *IntOrString  `yaml:"minAvailable"`
		MaxUnavailable *IntOrString  `yaml:"maxUnavailable"`
		Selector       LabelSelector `yaml:"selector"`
	} `yaml:"spec"`
}

// ServiceMonitor is the Prometheus Operator CRD (monitoring.coreos.com/v1), the fields the chart uses.
type ServiceMonitor struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta `yaml:"metadata"`
	Spec     struct {
		Selector  LabelSelector `yaml:"selector"`
		Endpoints []struct {
			Port     string `yaml:"port"`
			Path     string `yaml:"path"`
			Interval string `yaml:"interval"`
		} `yaml:"endpoints"`
	} `yaml:"spec"`
}

// PrometheusRule is the Prometheus Operator CRD (monitoring.coreos.com/v1), the fields the chart uses.
type PrometheusRule struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta `yaml:"metadata"`
	Spec     struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	} `yaml:"spec"`
}

type NetworkPolicyPort struct {
	Port     *IntOrString `yaml:"port"`
	Protocol string       `yaml:"protocol"`
}

type NetworkPolicyPeer struct {
	PodSelector       *LabelSelector `yaml:"podSelector"`
	NamespaceSelector *LabelSelector `yaml:"namespaceSelector"`
	IPBlock           *struct {
		CIDR   string   `yaml:"cidr"`
		Except []string `yaml:"except"`
	} `yaml:"ipBlock"`
}

type NetworkPolicy struct {
	TypeMeta `yaml:",inline"`
	Metadata ObjectMeta `yaml:"metadata"`
	Spec     struct {
		PodSelector LabelSelector `yaml:"podSelector"`
		PolicyTypes []string      `yaml:"policyTypes"`
		Ingress     []struct {
			Ports []NetworkPolicyPort `yaml:"ports"`
			From  []NetworkPolicyPeer `yaml:"from"`
		} `yaml:"ingress"`
		Egress []struct {
			Ports []NetworkPolicyPort `yaml:"ports"`
			To    []NetworkPolicyPeer `yaml:"to"`
		} `yaml:"egress"`
	} `yaml:"spec"`
}

// kinds maps apiVersion/kind to a new typed object.
var kinds = map[string]func() interface{}{
	"apps/v1/Deployment":                      func() interface{} { return &Deployment{} },
	"v1/Pod":                                  func() interface{} { return &Pod{} },
	"v1/Service":                              func() interface{} { return &Service{} },
	"v1/ConfigMap":                            func() interface{} { return &ConfigMap{} },
	"v1/Secret":                               func() interface{} { return &Secret{} },
	"v1/ServiceAccount":                       func() interface{} { return &ServiceAccount{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() interface{} { return &HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":           func() interface{} { return &PodDisruptionBudget{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() interface{} { return &ServiceMonitor{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() interface{} { return &NetworkPolicy{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() interface{} { return &PrometheusRule{} },
}
