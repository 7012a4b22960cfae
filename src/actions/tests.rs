use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn deployment(container: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llm", "namespace": "ai"},
        "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "llm"}}, "spec": {"containers": [container]}}}
    })
}

#[test]
fn set_arg_renders_a_guarded_patch_a_revert_and_a_diff() {
    let d = deployment(
        json!({"name": "vllm", "image": "vllm/vllm-openai:v0.8.5", "args": ["--model", "m", "--max-model-len", "32768"]}),
    );
    let a =
        Action::SetArg { container: "vllm".into(), flag: "--max-model-len".into(), value: "20128".into(), env: None };
    let r = a.render(&d, "deployment.yaml").unwrap();
    assert_eq!(
        r.patch,
        vec![
            PatchOp::Test { path: "/spec/template/spec/containers/0/args/3".into(), value: json!("32768") },
            PatchOp::Replace { path: "/spec/template/spec/containers/0/args/3".into(), value: json!("20128") },
        ]
    );
    assert!(r.diff.contains("-        - '32768'") || r.diff.contains("-        - \"32768\""), "{}", r.diff);
    let applied = a.apply(&d).unwrap();
    assert_eq!(Action::revert(&applied, &r).unwrap(), d);
}

#[test]
fn template_actions_refuse_bare_pods() {
    let pod = json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}});
    let e = Action::Scale { replicas: 2 }.apply(&pod).unwrap_err();
    assert_eq!(e.to_string(), "`scale` needs a Deployment or StatefulSet; a Pod gets delete-pod and notify only");
    assert_eq!(Action::DeletePod { pod: "p".into() }.apply(&pod).unwrap(), pod);
}

#[test]
fn startup_probe_is_derived_from_the_liveness_probe() {
    let d = deployment(
        json!({"name": "c", "livenessProbe": {"httpGet": {"path": "/health", "port": 8000}, "periodSeconds": 10}}),
    );
    let a = Action::SetStartupProbe { container: "c".into(), failure_threshold: 90, period_seconds: Some(10) };
    let out = a.apply(&d).unwrap();
    assert_eq!(
        out.pointer("/spec/template/spec/containers/0/startupProbe").unwrap(),
        &json!({"httpGet": {"path": "/health", "port": 8000}, "failureThreshold": 90, "periodSeconds": 10})
    );
    let bare = deployment(json!({"name": "c"}));
    assert_eq!(a.apply(&bare).unwrap_err(), ActionError::NoProbe("c".into()));
}

#[test]
fn shm_reuses_an_existing_dev_shm_emptydir_and_refuses_other_sources() {
    let mut d = deployment(json!({"name": "c", "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}]}));
    d["spec"]["template"]["spec"]["volumes"] = json!([{"name": "shm", "emptyDir": {}}]);
    let a = Action::MountShm { container: "c".into(), size_limit: "16Gi".into() };
    let out = a.apply(&d).unwrap();
    assert_eq!(
        out["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}}])
    );
    d["spec"]["template"]["spec"]["volumes"] = json!([{"name": "shm", "hostPath": {"path": "/dev/shm"}}]);
    assert!(matches!(a.apply(&d), Err(ActionError::ShmNotEmptyDir { .. })));
}

#[test]
fn affinity_is_anded_into_every_term() {
    let mut d = deployment(json!({"name": "c"}));
    d["spec"]["template"]["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}]},
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["b"]}]}
    ]}}});
    let a = Action::AddNodeAffinity {
        key: "nvidia.com/cuda.driver.major".into(),
        operator: AffinityOperator::Gt,
        values: vec!["549".into()],
    };
    let out = a.apply(&d).unwrap();
    let terms = out.pointer("/spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms").unwrap();
    for t in terms.as_array().unwrap() {
        assert_eq!(t["matchExpressions"].as_array().unwrap().len(), 2);
    }
}

#[test]
fn cordon_patches_a_node() {
    let node = json!({"kind": "Node", "metadata": {"name": "gpu-3"}, "spec": {}});
    let a = Action::CordonNode { node: "gpu-3".into() };
    let r = a.render(&node, "node").unwrap();
    assert_eq!(r.patch, vec![PatchOp::Add { path: "/spec/unschedulable".into(), value: json!(true) }]);
    assert_eq!(
        r.revert,
        vec![
            PatchOp::Test { path: "/spec/unschedulable".into(), value: json!(true) },
            PatchOp::Remove { path: "/spec/unschedulable".into() }
        ]
    );
}

#[test]
fn actions_round_trip_through_json_with_their_type_tag() {
    let a = Action::SetResources {
        container: "c".into(),
        limits: [("memory".to_owned(), "40Gi".to_owned())].into(),
        requests: Default::default(),
    };
    let j = serde_json::to_value(&a).unwrap();
    assert_eq!(j, json!({"type": "set-resources", "container": "c", "limits": {"memory": "40Gi"}}));
    assert_eq!(serde_json::from_value::<Action>(j).unwrap(), a);
    assert!(serde_json::from_value::<Action>(json!({"type": "scale", "replicas": 1, "bogus": 2})).is_err());
    for k in ActionKind::ALL {
        assert_eq!(ActionKind::parse(k.as_str()), Some(k));
        assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
    }
}

// ---- property tests -------------------------------------------------------

fn opt<T: std::fmt::Debug + Clone + 'static>(s: impl Strategy<Value = T> + 'static) -> BoxedStrategy<Option<T>> {
    prop_oneof![Just(None), s.prop_map(Some)].boxed()
}

fn arb_container() -> impl Strategy<Value = Value> {
    let tokens = prop::sample::select(vec![
        "--model",
        "m",
        "--max-model-len",
        "4096",
        "--max-model-len=2048",
        "--port",
        "8000",
        "--block-size",
        "32",
        "--gpu-memory-utilization",
        "0.9",
    ]);
    let command = prop::sample::select(vec![
        json!(null),
        json!(["vllm", "serve"]),
        json!(["/bin/sh", "-c", "python -m vllm.entrypoints.openai.api_server --max-model-len 100 --port 1"]),
        json!(["bash", "-c", "set -e; vllm serve m \\\n  --port 8000 && echo bye"]),
        json!(["text-generation-launcher"]),
    ]);
    let env = prop::collection::vec(
        (
            prop::sample::select(vec!["MAX_TOTAL_TOKENS", "HF_HOME", "NCCL_DEBUG"]),
            prop::sample::select(vec!["1", "8192", "/data"]),
        ),
        0..3,
    );
    let limits = opt(prop::sample::select(vec!["1Gi", "32Gi", "100Mi"]));
    let probes = prop::sample::select(vec![0u8, 1, 2, 3]);
    let shm = prop::sample::select(vec![0u8, 1, 2]);
    (opt(prop::collection::vec(tokens, 0..8)), command, env, limits, probes, shm).prop_map(
        |(args, command, env, limit, probes, shm)| {
            let mut c = json!({"name": "main", "image": "vllm/vllm-openai:v0.8.5"});
            if let Some(a) = args {
                c["args"] = json!(a);
            }
            if !command.is_null() {
                c["command"] = command;
            }
            if !env.is_empty() {
                c["env"] = Value::Array(env.into_iter().map(|(n, v)| json!({"name": n, "value": v})).collect());
            }
            if let Some(l) = limit {
                c["resources"] = json!({"limits": {"memory": l}});
            }
            if probes & 1 != 0 {
                c["livenessProbe"] = json!({"httpGet": {"path": "/health", "port": 8000}});
            }
            if probes & 2 != 0 {
                c["startupProbe"] = json!({"httpGet": {"path": "/health", "port": 8000}, "failureThreshold": 30});
            }
            if shm == 1 {
                c["volumeMounts"] = json!([{"name": "dshm", "mountPath": "/dev/shm"}]);
            }
            c
        },
    )
}

fn arb_deployment() -> impl Strategy<Value = Value> {
    (arb_container(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(c, affinity, tol, vol)| {
        let has_mount = c.get("volumeMounts").is_some();
        let mut d = deployment(c);
        if d["spec"]["template"]["spec"]["containers"][0]["name"] == "main" && has_mount {
            d["spec"]["template"]["spec"]["volumes"] = json!([{"name": "dshm", "emptyDir": {}}]);
        } else if vol {
            d["spec"]["template"]["spec"]["volumes"] = json!([{"name": "dshm", "emptyDir": {"sizeLimit": "1Gi"}}]);
        }
        if affinity {
            d["spec"]["template"]["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "nvidia.com/cuda.driver.major", "operator": "Gt", "values": ["520"]}]}]}}});
        }
        if tol {
            d["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]);
        }
        d
    })
}

fn arb_action() -> impl Strategy<Value = Action> {
    let c = || Just("main".to_owned());
    let flag =
        prop::sample::select(vec!["--max-model-len", "--gpu-memory-utilization", "--max-total-tokens", "--block-size"]);
    let num = prop::sample::select(vec!["16", "4096", "20128", "0.95"]);
    let q = prop::sample::select(vec!["1Gi", "16Gi", "39322Mi"]);
    prop_oneof![
        (c(), flag, num, opt(Just("MAX_TOTAL_TOKENS".to_owned()))).prop_map(|(container, f, v, env)| Action::SetArg {
            container,
            flag: f.into(),
            value: v.into(),
            env
        }),
        (c(), prop::sample::select(vec!["NCCL_DEBUG", "NEW"]), prop::sample::select(vec!["1", "INFO"]))
            .prop_map(|(container, n, v)| Action::SetEnv { container, name: n.into(), value: v.into() }),
        (c(), q.clone(), any::<bool>()).prop_map(|(container, q, gpu)| {
            let mut limits: std::collections::BTreeMap<String, String> = [("memory".to_owned(), q.to_owned())].into();
            if gpu {
                limits.insert("nvidia.com/gpu".into(), "1".into());
            }
            Action::SetResources { container, limits, requests: [("memory".to_owned(), q.to_owned())].into() }
        }),
        prop::sample::select(vec!["549", "569"]).prop_map(|v| Action::AddNodeAffinity {
            key: "nvidia.com/cuda.driver.major".into(),
            operator: AffinityOperator::Gt,
            values: vec![v.into()]
        }),
        Just(Action::AddToleration {
            key: "nvidia.com/gpu".into(),
            operator: Some("Exists".into()),
            value: None,
            effect: Some("NoSchedule".into())
        }),
        (c(), q).prop_map(|(container, q)| Action::MountShm { container, size_limit: q.into() }),
        (c(), 1i64..200, opt(1i64..30)).prop_map(|(container, t, p)| Action::SetStartupProbe {
            container,
            failure_threshold: t,
            period_seconds: p
        }),
        Just(Action::Rollback {
            revision: Some(1),
            source: None,
            template: Some(json!({"spec": {"containers": [{"name": "main", "image": "old"}]}}))
        }),
        Just(Action::RolloutRestart { restarted_at: "2026-01-01T00:00:00Z".into() }),
        (0i64..5).prop_map(|replicas| Action::Scale { replicas }),
        Just(Action::Notify { message: "hi".into() }),
        Just(Action::DeletePod { pod: "p".into() }),
    ]
}

proptest! {
    #[test]
    fn apply_is_idempotent_and_revert_restores_the_original(d in arb_deployment(), a in arb_action()) {
        let once = match a.apply(&d) {
            Ok(v) => v,
            Err(_) => return Ok(()), // refused cleanly (e.g. no probe to lengthen): fine
        };
        let twice = a.apply(&once).expect("applies again");
        prop_assert_eq!(&twice, &once);
        let r = a.render(&d, "w").unwrap();
        prop_assert_eq!(patch::apply(&d, &r.patch).unwrap(), once.clone());
        prop_assert_eq!(Action::revert(&once, &r).unwrap(), d);
    }

    #[test]
    fn sequences_of_actions_revert_in_reverse_order(d in arb_deployment(), acts in prop::collection::vec(arb_action(), 1..5)) {
        let mut cur = d.clone();
        let mut done = Vec::new();
        for a in &acts {
            if let Ok(r) = a.render(&cur, "w") {
                cur = patch::apply(&cur, &r.patch).unwrap();
                done.push(r);
            }
        }
        for r in done.iter().rev() {
            cur = patch::apply(&cur, &r.revert).unwrap();
        }
        prop_assert_eq!(cur, d);
    }
}
