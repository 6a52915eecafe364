// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Where a Kubernetes API object's name and UID are, as data (the APF config digest probe reads them from
 * *flowcontrol.PriorityLevelConfiguration and *flowcontrol.FlowSchema): every API type embeds
 * metav1.TypeMeta{Kind, APIVersion string} (32 bytes) then metav1.ObjectMeta{Name, GenerateName,
 * Namespace, SelfLink string, UID types.UID, ...}: Name at 32, UID at 32 + 4 x 16 = 96 on amd64.
 * Source: k8s.io/apimachinery/pkg/apis/meta/v1/types.go and k8s.io/api/flowcontrol/v1beta1/types.go of
 * kubernetes 1.20.2 (the field order is the protobuf field order, 1 .. 5, unchanged since 1.0); checked on
 * the testbed by tests/integration/test_apf.sh (the learned names and UIDs equal kubectl's).
 */
#include "plan/plan.h"

#include "kapimon/go_offsets.h"

void plan_k8s_offsets(struct kp_k8s_offsets *o)
{
	o->object_name = 32;
	o->object_uid = 96;
}
