//! A strict in-memory Auto Scaling beside the strict EC2 (docs/design.md,
//! T8), on the same clock and round trips: moto has no
//! `CompleteLifecycleAction` and no `Pending:Wait` or warm states.
//!
//! - Lifecycle states [ASG-STATES]: a launch with launch hooks waits in
//!   `Pending:Wait` (into the warm pool: `Warmed:Pending:Wait`) until every
//!   hook's action is completed, then goes `InService` (`Warmed:Running`);
//!   without hooks, `InService` once EC2 runs it. A termination with
//!   terminate hooks waits in `Terminating:Wait`; then EC2 terminates the
//!   instance [ASG-HOOK]. A scale-in that returns the instance to the warm
//!   pool waits in `Warmed:Pending:Wait` for the terminate hooks, then goes
//!   `Warmed:Running` (it keeps running: the harsher of the pool states
//!   for a manager that must not give it a member); a warm instance that is
//!   terminated waits in `Warmed:Terminating:Wait`, then EC2 terminates it
//!   [ASG-WPEV]. The events' `Origin` and `Destination` say which; for the
//!   warm termination they are a guess (`WarmPool` to `EC2`).
//! - Once every action of a transition is completed, the instance stays in
//!   its `*:Proceed` state for `proceed_time` [ASG-STATES] (how long: guess),
//!   then goes on; EC2 terminates a terminating instance at once.
//! - Actions time out to their hook's default result [ASG-HOOK]; `ABANDON`
//!   on launch terminates the instance.
//! - Completing an action that is not open answers `ValidationError` "No
//!   active Lifecycle Action found ..." [ISS-TOKEN]; `ResourceContention`
//!   can be injected [ASG-API].
//! - `DescribeAutoScalingInstances` takes at most 50 ids and answers only
//!   instances in a group [ASG-TAGS]; its reads lag behind state changes
//!   like EC2's filtered reads (guess).

use network_interface_manager::aws::{AwsError, CallCounter};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use network_interface_manager::autoscaling::{Refresh, Transition, GROUP_TAG};
use network_interface_manager::ec2::InstanceState;
use serde_json::Value;

use super::setup::new_instance;
use super::{publish, settle, settle_visible, StrictEc2};
use events::event;

mod api;
mod events;

/// A hook as the group declares it.
#[derive(Clone, Debug)]
pub struct HookSpec {
    pub name: String,
    pub transition: Transition,
    pub heartbeat: Duration,
    /// `CONTINUE` when true, else `ABANDON` (the API's default).
    pub default_continue: bool,
}

impl HookSpec {
    pub fn new(name: &str, transition: Transition) -> Self {
        Self {
            name: name.into(),
            transition,
            heartbeat: Duration::from_secs(30),
            default_continue: true,
        }
    }
}

/// Where a lifecycle transition takes an instance [ASG-WPEV].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// EC2 to the group.
    Launch,
    /// EC2 to the warm pool.
    LaunchIntoWarmPool,
    /// The group to EC2 (terminated).
    Terminate,
    /// The group back to the warm pool (a scale-in with reuse).
    BackToWarmPool,
    /// The warm pool to EC2 (terminated).
    TerminateFromWarmPool,
}

impl Route {
    pub fn transition(self) -> Transition {
        match self {
            Self::Launch | Self::LaunchIntoWarmPool => Transition::Launching,
            _ => Transition::Terminating,
        }
    }

    /// The event's `Origin` and `Destination`.
    fn ends(self) -> (&'static str, &'static str) {
        match self {
            Self::Launch => ("EC2", "AutoScalingGroup"),
            Self::LaunchIntoWarmPool => ("EC2", "WarmPool"),
            Self::Terminate => ("AutoScalingGroup", "EC2"),
            Self::BackToWarmPool => ("AutoScalingGroup", "WarmPool"),
            Self::TerminateFromWarmPool => ("WarmPool", "EC2"),
        }
    }

    /// The state its hooks hold the instance in.
    fn wait_state(self) -> &'static str {
        match self {
            Self::Launch => "Pending:Wait",
            Self::LaunchIntoWarmPool | Self::BackToWarmPool => "Warmed:Pending:Wait",
            Self::Terminate => "Terminating:Wait",
            Self::TerminateFromWarmPool => "Warmed:Terminating:Wait",
        }
    }
}

/// One lifecycle action, open until completed or timed out.
#[derive(Clone, Debug)]
pub struct Action {
    pub token: String,
    pub group: String,
    pub hook: String,
    pub instance_id: String,
    pub transition: Transition,
    route: Route,
    /// The transition it belongs to: the actions opened together.
    batch: u64,
    expires: Instant,
    /// [ASG-HOOK]: no heartbeat keeps it open past the smaller of 48 hours
    /// and 100 times its heartbeat timeout from its start.
    pub(super) cap: Instant,
    /// How it ended: (`CONTINUE`?, when, by a timeout?).
    pub ended: Option<(bool, Instant, bool)>,
    /// The interfaces the instance had (true state) when it was completed.
    pub members_then: Vec<String>,
    /// Those of them done attaching then.
    pub attached_then: Vec<String>,
    /// The instance's tags then.
    pub tags_then: network_interface_manager::ec2::Tags,
    /// The volumes done attaching to it then.
    pub volumes_then: Vec<String>,
    /// Heartbeats recorded for it.
    pub heartbeats: u32,
}

#[derive(Debug, Default)]
struct Groups {
    hooks: BTreeMap<String, Vec<HookSpec>>,
    /// Instance -> its group and its lifecycle states, oldest first.
    states: BTreeMap<String, (String, Vec<(Instant, String)>)>,
    actions: Vec<Action>,
    next_token: u64,
    next_batch: u64,
    /// Instances in a `*:Proceed` state -> when it is over.
    proceeding: BTreeMap<String, Instant>,
    /// Instances whose health status is `Unhealthy` -> since when: the
    /// reads lag behind it as behind a lifecycle state (guess).
    unhealthy: BTreeMap<String, Instant>,
    /// Groups with an instance refresh `InProgress` [ASG-REFRESH].
    refreshes: BTreeMap<String, Refresh>,
}

#[derive(Debug)]
pub struct AsgFaults {
    /// How far behind a `DescribeAutoScalingInstances` may be (guess).
    pub read_lag: Duration,
    /// Errors the next completions answer, in order (code, message).
    pub next_complete: VecDeque<(String, String)>,
    /// Errors the next heartbeats answer, in order (code, message).
    pub next_heartbeat: VecDeque<(String, String)>,
    /// How long an instance stays in `*:Proceed` (guess).
    pub proceed_time: Duration,
}

impl Default for AsgFaults {
    fn default() -> Self {
        Self {
            read_lag: Duration::from_millis(60),
            next_complete: VecDeque::new(),
            next_heartbeat: VecDeque::new(),
            proceed_time: Duration::from_millis(200),
        }
    }
}

#[derive(Debug)]
pub struct StrictAutoScaling {
    pub ec2: Arc<StrictEc2>,
    groups: Mutex<Groups>,
    pub faults: Mutex<AsgFaults>,
    calls: CallCounter,
}

fn err(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::from_code(code, &message.into())
}

impl StrictAutoScaling {
    pub fn new(ec2: Arc<StrictEc2>) -> Self {
        Self {
            ec2,
            groups: Mutex::default(),
            faults: Mutex::default(),
            calls: CallCounter::default(),
        }
    }

    pub fn create_group(&self, name: &str, hooks: Vec<HookSpec>) {
        let mut g = self.groups.lock().unwrap();
        g.hooks.insert(name.into(), hooks);
    }

    /// An instance of `group` in service before the story: running, settled.
    pub fn in_service(&self, group: &str, pool: &str, subnet: &str) -> String {
        let id = self.new_instance(group, pool, subnet, InstanceState::Running, true);
        let long_ago = Instant::now() - Duration::from_secs(60);
        self.set_state_at(&id, group, "InService", Some(long_ago));
        id
    }

    /// The group launches an instance now: `pending` in EC2 for `boot`, in
    /// `Pending:Wait` when the group has launch hooks (`Warmed:Pending:Wait`
    /// into the warm pool). Returns it and the lifecycle events Auto Scaling
    /// sends.
    pub fn launch(
        &self,
        group: &str,
        pool: &str,
        subnet: &str,
        boot: Duration,
        warm: bool,
    ) -> (String, Vec<Value>) {
        let id = self.new_instance(group, pool, subnet, InstanceState::Pending, false);
        self.ec2
            .world
            .lock()
            .unwrap()
            .booting
            .insert(id.clone(), Instant::now() + boot);
        let route = match warm {
            true => Route::LaunchIntoWarmPool,
            false => Route::Launch,
        };
        let events = self.begin(&id, group, route);
        (id, events)
    }

    /// The group terminates an instance: `Terminating:Wait` while terminate
    /// hooks are open, else EC2 terminates it at once.
    pub fn terminate(&self, instance: &str) -> Vec<Value> {
        let group = self.group_of(instance);
        self.begin(instance, &group, Route::Terminate)
    }

    /// A scale-in with `ReuseOnScaleIn`: the instance goes back to the warm
    /// pool, held in `Warmed:Pending:Wait` by the terminate hooks.
    pub fn scale_in_to_warm_pool(&self, instance: &str) -> Vec<Value> {
        let group = self.group_of(instance);
        self.begin(instance, &group, Route::BackToWarmPool)
    }

    /// A warm instance is terminated: `Warmed:Terminating:Wait` while
    /// terminate hooks are open.
    pub fn terminate_warm(&self, instance: &str) -> Vec<Value> {
        let group = self.group_of(instance);
        self.begin(instance, &group, Route::TerminateFromWarmPool)
    }

    /// Puts an instance in a lifecycle state now (standby, retained, ...).
    pub fn set_lifecycle(&self, instance: &str, state: &str) {
        let group = self.group_of(instance);
        self.set_state_at(instance, &group, state, None);
    }

    /// An instance refresh of `group` starts now [ASG-REFRESH]: it replaces
    /// the instances launched before it (those that do not match, with
    /// `skip_matching`). The story launches and terminates them.
    pub fn start_refresh(&self, group: &str, skip_matching: bool) {
        let started_ms = super::clock::epoch_ms();
        let refresh = Refresh {
            started_ms,
            skip_matching,
        };
        self.groups
            .lock()
            .unwrap()
            .refreshes
            .insert(group.into(), refresh);
    }

    /// A health check finds the instance unhealthy [ASG-HEALTH]: its health
    /// status reads `Unhealthy`; the group replaces it (the story does).
    pub fn mark_unhealthy(&self, instance: &str) {
        let mut g = self.groups.lock().unwrap();
        g.unhealthy.insert(instance.into(), Instant::now());
    }

    /// The lifecycle state as it truly is.
    /// The lifecycle state once a `*:Proceed` state is over.
    pub async fn lifecycle_once_proceeded(&self, instance: &str) -> String {
        let wait = self.faults.lock().unwrap().proceed_time;
        tokio::time::sleep(wait).await;
        self.lifecycle(instance)
    }

    pub fn lifecycle(&self, instance: &str) -> String {
        self.tick();
        let g = self.groups.lock().unwrap();
        g.states[instance].1.last().unwrap().1.clone()
    }

    /// Every action so far, open and ended.
    pub fn actions(&self) -> Vec<Action> {
        self.tick();
        self.groups.lock().unwrap().actions.clone()
    }

    /// Actions completed by a call (not by a timeout).
    pub fn completed(&self, instance: &str) -> Vec<Action> {
        let ended = self
            .actions()
            .into_iter()
            .filter(|a| a.instance_id == instance);
        ended
            .filter(|a| matches!(a.ended, Some((_, _, false))))
            .collect()
    }

    /// Every read sees the lifecycle states as they are now (see
    /// `StrictEc2::settle_reads`).
    pub fn settle_reads(&self) {
        self.ec2.settle_reads();
        self.tick();
        let long_ago = Instant::now() - Duration::from_secs(60);
        let mut g = self.groups.lock().unwrap();
        for (_, states) in g.states.values_mut() {
            let last = states.pop().unwrap().1;
            *states = vec![(long_ago, last)];
        }
        for since in g.unhealthy.values_mut() {
            *since = long_ago;
        }
    }

    pub fn fail_next_complete(&self, code: &str, message: &str) {
        let mut f = self.faults.lock().unwrap();
        f.next_complete.push_back((code.into(), message.into()));
    }

    fn group_of(&self, instance: &str) -> String {
        self.groups.lock().unwrap().states[instance].0.clone()
    }

    fn new_instance(
        &self,
        group: &str,
        pool: &str,
        subnet: &str,
        state: InstanceState,
        settled: bool,
    ) -> String {
        let mut w = self.ec2.world.lock().unwrap();
        settle(&mut w);
        let id = new_instance(&mut w, Some(pool), subnet, state);
        let tags = &mut w.instances.get_mut(&id).unwrap().tags;
        tags.insert(GROUP_TAG.into(), group.into());
        if settled {
            settle_visible(&mut w);
        } else {
            publish(&mut w, Instant::now());
        }
        id
    }

    fn set_state_at(&self, instance: &str, group: &str, state: &str, at: Option<Instant>) {
        let mut g = self.groups.lock().unwrap();
        let at = at.unwrap_or_else(Instant::now);
        let entry = g
            .states
            .entry(instance.into())
            .or_insert_with(|| (group.into(), Vec::new()));
        entry.1.push((at, state.into()));
    }

    /// Opens one action per hook of the route's transition; without any,
    /// the route goes straight on.
    fn begin(&self, instance: &str, group: &str, route: Route) -> Vec<Value> {
        let now = Instant::now();
        let transition = route.transition();
        let mut g = self.groups.lock().unwrap();
        let hooks: Vec<HookSpec> = g.hooks[group]
            .iter()
            .filter(|h| h.transition == transition)
            .cloned()
            .collect();
        let (origin, destination) = route.ends();
        g.next_batch += 1;
        let batch = g.next_batch;
        let mut events = Vec::new();
        for hook in &hooks {
            g.next_token += 1;
            let token = format!("token-{:08}", g.next_token);
            let names = (group, hook.name.as_str(), instance);
            events.push(event(&token, names, transition, origin, destination));
            g.actions.push(Action {
                token,
                group: group.into(),
                hook: hook.name.clone(),
                instance_id: instance.into(),
                transition,
                route,
                batch,
                expires: now + hook.heartbeat,
                cap: now + (hook.heartbeat * 100).min(Duration::from_secs(48 * 3600)),
                ended: None,
                members_then: Vec::new(),
                attached_then: Vec::new(),
                tags_then: Default::default(),
                volumes_then: Vec::new(),
                heartbeats: 0,
            });
        }
        drop(g);
        if hooks.is_empty() {
            self.go_on(instance, group, route, true, now);
        } else {
            self.set_state_at(instance, group, route.wait_state(), Some(now));
        }
        events
    }

    /// Every hook of the route is done: the instance goes on, or is
    /// terminated (an abandoned launch).
    fn go_on(&self, instance: &str, group: &str, route: Route, proceed: bool, at: Instant) {
        let next = match (route, proceed) {
            (Route::Launch, true) => "Pending:Proceed",
            (Route::LaunchIntoWarmPool | Route::BackToWarmPool, true) => "Warmed:Pending:Proceed",
            // Guess: an abandoned return to the warm pool returns it all the same.
            (Route::BackToWarmPool, false) => "Warmed:Pending:Proceed",
            (Route::TerminateFromWarmPool, _) => "Warmed:Terminating:Proceed",
            (Route::Launch | Route::LaunchIntoWarmPool, false) | (Route::Terminate, _) => {
                "Terminating:Proceed"
            }
        };
        // Pending until EC2 runs it (see `tick`).
        let booting = self.ec2.instance_state(instance) == InstanceState::Pending;
        let next = if next == "Pending:Proceed" && booting {
            "Pending"
        } else {
            next
        };
        self.set_state_at(instance, group, next, Some(at));
        if next.ends_with(":Proceed") {
            let until = at + self.faults.lock().unwrap().proceed_time;
            let mut g = self.groups.lock().unwrap();
            g.proceeding.insert(instance.into(), until);
        }
        if matches!(next, "Terminating:Proceed" | "Warmed:Terminating:Proceed") {
            self.ec2.set_state(instance, InstanceState::Terminated);
        }
    }

    /// Instances whose `*:Proceed` time is over go on.
    fn proceed(&self, now: Instant) {
        let mut g = self.groups.lock().unwrap();
        let over: Vec<(String, Instant)> = g
            .proceeding
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(id, until)| (id.clone(), *until))
            .collect();
        for (id, until) in over {
            g.proceeding.remove(&id);
            let states = &mut g.states.get_mut(&id).unwrap().1;
            let next = match states.last().unwrap().1.as_str() {
                "Pending:Proceed" => "InService",
                "Warmed:Pending:Proceed" => "Warmed:Running",
                "Terminating:Proceed" => "Terminated",
                "Warmed:Terminating:Proceed" => "Warmed:Terminated",
                _ => continue, // moved on meanwhile
            };
            states.push((until, next.into()));
        }
    }

    /// Timeouts apply their default result; `*:Proceed` instances go on;
    /// `Pending` instances whose launch EC2 finished go in service.
    fn tick(&self) {
        let now = Instant::now();
        self.proceed(now);
        let mut ended = Vec::new();
        {
            let mut g = self.groups.lock().unwrap();
            let g = &mut *g;
            for a in g.actions.iter_mut().filter(|a| a.ended.is_none()) {
                if a.expires <= now {
                    let hook = g.hooks[&a.group].iter().find(|h| h.name == a.hook).unwrap();
                    a.ended = Some((hook.default_continue, a.expires, true));
                    ended.push(a.clone());
                }
            }
        }
        for a in ended {
            self.after_end(&a);
        }
        let pending: Vec<(String, String)> = {
            let g = self.groups.lock().unwrap();
            let last = |v: &Vec<(Instant, String)>| v.last().map(|s| s.1.clone());
            g.states
                .iter()
                .filter(|(_, (_, v))| last(v).as_deref() == Some("Pending"))
                .map(|(id, (group, _))| (id.clone(), group.clone()))
                .collect()
        };
        for (id, group) in pending {
            if self.ec2.instance_state(&id) == InstanceState::Running {
                self.set_state_at(&id, &group, "InService", None);
            }
        }
    }

    /// After an action ended: when it was the transition's last open one,
    /// the instance goes on (any `ABANDON` on launch: terminated).
    fn after_end(&self, ended: &Action) {
        let (all_done, proceed) = {
            let g = self.groups.lock().unwrap();
            let same = g.actions.iter().filter(|a| a.batch == ended.batch);
            let same: Vec<&Action> = same.collect();
            let all_done = same.iter().all(|a| a.ended.is_some());
            let proceed = same.iter().all(|a| a.ended.is_some_and(|e| e.0));
            (all_done, proceed)
        };
        if all_done {
            let at = ended.ended.unwrap().1;
            let group = ended.group.clone();
            self.go_on(&ended.instance_id, &group, ended.route, proceed, at);
        }
    }

    /// (group, lifecycle state, healthy) as a read with `cutoff` sees them.
    fn read_state(&self, instance: &str, cutoff: Instant) -> Option<(String, String, bool)> {
        let g = self.groups.lock().unwrap();
        let (group, states) = g.states.get(instance)?;
        let known = states.partition_point(|(t, _)| *t <= cutoff);
        // Before its first state, the instance is in no group yet.
        let state = states[..known].last()?.1.clone();
        let unhealthy = g.unhealthy.get(instance).is_some_and(|t| *t <= cutoff);
        Some((group.clone(), state, !unhealthy))
    }
}
