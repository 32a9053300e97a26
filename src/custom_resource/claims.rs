//! Who holds a pool declared by invocation (C18), decided without I/O: the
//! declarations that claim it, counted on its members, and the last touch
//! one made. A create-first replacement claims the pool before the old
//! declaration lets it go, so only the last claim's delete deletes it.

use std::time::Duration;

use aws_smithy_types::date_time::{DateTime, Format};

use crate::ec2::{
    NetworkInterface, CLAIMS_TAG, DECLARATION_TAG, OWNER_TAG, RETIRED_TAG, STACK_TAG, TOUCHED_TAG,
};

/// A release of a declaration that follows a release of the same
/// declaration (fingerprint) this closely is taken for a delivery of the
/// same delete again, and releases nothing (C18). A guess: long enough for
/// an SDK's retry and a re-run apply, short enough that a pool destroyed
/// twice over in a working session is rarely kept.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(600);

/// What a declaration did to its pool, or is doing (a mark, until its
/// fresh read shows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Claiming,
    Claimed,
    Updating,
    Updated,
    Releasing,
    Released,
}

impl Step {
    const ALL: [Step; 6] = [
        Step::Claiming,
        Step::Claimed,
        Step::Updating,
        Step::Updated,
        Step::Releasing,
        Step::Released,
    ];

    pub fn word(self) -> &'static str {
        match self {
            Step::Claiming => "claiming",
            Step::Claimed => "claimed",
            Step::Updating => "updating",
            Step::Updated => "updated",
            Step::Releasing => "releasing",
            Step::Released => "released",
        }
    }
}

/// One touch of a pool by a declaration: when (milliseconds since the
/// epoch), what, and the declaration's fingerprint, if its input parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touch {
    pub at_ms: i64,
    pub step: Step,
    pub fingerprint: String,
}

impl Touch {
    /// The tag's value: `2026-12-07T10:00:00.5Z released 0123abcd…`, readable
    /// in the console.
    pub fn tag(&self) -> String {
        let at = DateTime::from_millis(self.at_ms).fmt(Format::DateTime);
        let at = at.unwrap_or_else(|_| self.at_ms.to_string());
        format!("{at} {} {}", self.step.word(), self.fingerprint)
    }

    pub fn parse(tag: &str) -> Option<Touch> {
        let mut parts = tag.split(' ');
        let at = DateTime::from_str(parts.next()?, Format::DateTime).ok()?;
        let word = parts.next()?;
        let step = Step::ALL.into_iter().find(|s| s.word() == word)?;
        let fingerprint = parts.next().unwrap_or_default().to_string();
        Some(Touch {
            at_ms: at.to_millis().ok()?,
            step,
            fingerprint,
        })
    }
}

/// What a pool's members record of its claims (`network-interface-manager-
/// claims`: `<count>`, then the last release, if any: `2 <touch>`). The
/// release is kept beside the count, not in the touch tag that marks
/// overwrite, so the fresh read that shows a mark still shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub count: u32,
    pub last_release: Option<Touch>,
}

impl Claims {
    pub fn tag(&self) -> String {
        match &self.last_release {
            None => self.count.to_string(),
            Some(r) => format!("{} {}", self.count, r.tag()),
        }
    }

    fn parse(tag: &str) -> Option<Claims> {
        let (count, release) = tag.split_once(' ').unwrap_or((tag, ""));
        Some(Claims {
            count: count.parse().ok()?,
            last_release: Touch::parse(release),
        })
    }
}

/// The claims the members record: the largest count any of them carries
/// (a write to some members only, or a member made since, never lowers
/// it), and the latest release; one claim for a pool declared before
/// claims were counted, none and no release for a pool that did not exist
/// before this invocation (`existed`).
pub fn claims<'a>(
    members: impl IntoIterator<Item = &'a NetworkInterface>,
    existed: bool,
) -> Claims {
    let read: Vec<Claims> = members
        .into_iter()
        .filter_map(|m| Claims::parse(m.tags.get(CLAIMS_TAG)?))
        .collect();
    let count = match (existed, read.iter().map(|c| c.count).max()) {
        (false, _) => 0,
        (true, Some(n)) => n,
        (true, None) => 1,
    };
    // A pool made now inherits nothing from one a lagging read still shows.
    let releases = read.into_iter().filter_map(|c| c.last_release);
    Claims {
        count,
        last_release: releases.max_by_key(|t| t.at_ms).filter(|_| existed),
    }
}

/// Whether every member read shows `mark`: a read that shows this
/// invocation's own write is at least as new as it, so it shows every
/// claim written before this invocation began.
pub fn shows(members: &[NetworkInterface], ids: &[String], mark: &str) -> bool {
    ids.iter().all(|id| {
        members
            .iter()
            .any(|m| &m.id == id && m.tags.get(TOUCHED_TAG).map(String::as_str) == Some(mark))
    })
}

/// Whether the member's last touch is a release that started (R16): the
/// last claim's delete marks its members so before it deletes them, so a
/// read that still shows one may lag behind that delete.
pub fn releasing(member: &NetworkInterface) -> bool {
    let touch = member.tags.get(TOUCHED_TAG).and_then(|t| Touch::parse(t));
    touch.is_some_and(|t| t.step == Step::Releasing)
}

/// The pool declared by invocation that the first of `names` is the name
/// of: the owner of its members. Its identity stays that of the name it was
/// made with (R25), so a rename and a rename back find it. A stack's pool,
/// or a retired interface, is no answer.
pub fn owner(named: &[NetworkInterface], names: &[String]) -> Option<String> {
    let invocations = |m: &&NetworkInterface| {
        !m.tags.contains_key(STACK_TAG)
            && m.tags.contains_key(DECLARATION_TAG)
            && !m.tags.contains_key(RETIRED_TAG)
    };
    names.iter().find_map(|name| {
        let mut of_name = named.iter().filter(invocations);
        let member = of_name.find(|m| m.pool() == Some(name.as_str()))?;
        member.tags.get(OWNER_TAG).cloned()
    })
}

/// What a delete does to the pool it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Release {
    /// Other declarations still claim it: the count goes down to this.
    Keep(u32),
    /// The last claim: the pool is deleted.
    Delete,
    /// The same declaration released it moments ago: this is that delete
    /// again, and nothing changes (when in doubt the pool is kept).
    Repeat,
}

/// C18: what the delete of the declaration `fingerprint` does, given the
/// claims read fresh.
pub fn release(claims: &Claims, fingerprint: Option<&str>, now_ms: i64) -> Release {
    let window = REPEAT_WINDOW.as_millis() as i64;
    let repeat = claims
        .last_release
        .as_ref()
        .is_some_and(|r| Some(r.fingerprint.as_str()) == fingerprint && now_ms - r.at_ms < window);
    match claims.count {
        _ if repeat => Release::Repeat,
        0 | 1 => Release::Delete,
        n => Release::Keep(n - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::{InterfaceStatus, Tags, POOL_TAG};

    fn member(id: &str, tags: &[(&str, &str)]) -> NetworkInterface {
        let tags: Tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        NetworkInterface {
            id: id.into(),
            availability_zone: "us-east-1a".into(),
            subnet_id: "subnet-a".into(),
            vpc_id: "vpc-1".into(),
            private_ip: None,
            public_ip: None,
            status: InterfaceStatus::Available,
            requester_managed: false,
            security_groups: Vec::new(),
            description: String::new(),
            source_dest_check: true,
            tags,
            attachment: None,
            interface_type: "interface".into(),
        }
    }

    fn touch(at_ms: i64, step: Step, fingerprint: &str) -> Touch {
        Touch {
            at_ms,
            step,
            fingerprint: fingerprint.into(),
        }
    }

    #[test]
    fn a_touch_reads_back_as_written_and_shows_its_time() {
        let written = touch(1_796_601_600_500, Step::Released, "0123abcd");
        assert_eq!(
            written.tag(),
            "2026-12-07T00:00:00.5Z released 0123abcd",
            "readable in the console"
        );
        assert_eq!(Touch::parse(&written.tag()), Some(written.clone()));
        for step in Step::ALL {
            let t = touch(1_796_601_600_000, step, "f");
            assert_eq!(Touch::parse(&t.tag()), Some(t));
        }
        assert_eq!(Touch::parse("yesterday released f"), None);
        assert_eq!(Touch::parse("2026-12-07T00:00:00Z forgot f"), None);
    }

    #[test]
    fn the_count_is_the_largest_a_member_carries_one_before_counting_none_for_a_new_pool() {
        let released = touch(1_000_000, Step::Released, "f");
        let later = touch(2_000_000, Step::Released, "g");
        let a = member("eni-a", &[(CLAIMS_TAG, &format!("2 {}", later.tag()))]);
        let b = member("eni-b", &[(CLAIMS_TAG, &format!("3 {}", released.tag()))]);
        let made_since = member("eni-c", &[]);
        let read = claims([&a, &b, &made_since], true);
        assert_eq!(read.count, 3);
        assert_eq!(read.last_release, Some(later.clone()), "the latest release");
        assert_eq!(Claims::parse(&read.tag()), Some(read));
        assert_eq!(
            claims([&made_since], true).count,
            1,
            "declared before claims"
        );
        let made_now = claims([&a, &b], false);
        assert_eq!(
            (made_now.count, made_now.last_release),
            (0, None),
            "made by this invocation"
        );
        let plain = member("eni-d", &[(CLAIMS_TAG, "4")]);
        let read = claims([&plain], true);
        assert_eq!((read.count, &read.last_release), (4, &None));
        assert_eq!(read.tag(), "4");
        let garbled = member("eni-e", &[(CLAIMS_TAG, "many")]);
        assert_eq!(claims([&garbled], true).count, 1);
    }

    #[test]
    fn a_read_is_fresh_once_every_member_shows_the_mark() {
        let ids = vec!["eni-a".to_string(), "eni-b".to_string()];
        let a = member("eni-a", &[(TOUCHED_TAG, "mark")]);
        let b_stale = member("eni-b", &[(TOUCHED_TAG, "before")]);
        let b = member("eni-b", &[(TOUCHED_TAG, "mark")]);
        assert!(shows(&[a.clone(), b], &ids, "mark"));
        assert!(!shows(&[a.clone(), b_stale], &ids, "mark"));
        assert!(!shows(&[a], &ids, "mark"), "a member not read yet");
        let a_stale = member("eni-a", &[(TOUCHED_TAG, "before")]);
        let other = member("eni-c", &[(TOUCHED_TAG, "mark")]);
        let b = member("eni-b", &[(TOUCHED_TAG, "mark")]);
        assert!(
            !shows(&[a_stale, b, other], &ids, "mark"),
            "each by its own id"
        );
    }

    #[test]
    fn a_name_leads_to_the_owner_of_its_invocation_pool_the_first_name_first() {
        let renamed = member(
            "eni-a",
            &[
                (POOL_TAG, "b"),
                (OWNER_TAG, "pool-a"),
                (DECLARATION_TAG, "f"),
            ],
        );
        let other = member(
            "eni-c",
            &[
                (POOL_TAG, "c"),
                (OWNER_TAG, "pool-c"),
                (DECLARATION_TAG, "g"),
            ],
        );
        let stacks = member(
            "eni-s",
            &[
                (POOL_TAG, "s"),
                (OWNER_TAG, "pool-s"),
                (DECLARATION_TAG, "h"),
                (STACK_TAG, "arn"),
            ],
        );
        let named = [renamed, other, stacks];
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(owner(&named, &names(&["b"])).as_deref(), Some("pool-a"));
        assert_eq!(
            owner(&named, &names(&["c", "b"])).as_deref(),
            Some("pool-c")
        );
        assert_eq!(
            owner(&named, &names(&["x", "b"])).as_deref(),
            Some("pool-a")
        );
        assert_eq!(owner(&named, &names(&["s"])), None, "a stack's pool");
        assert_eq!(owner(&named, &names(&["x"])), None);
        let hand_tagged = member("eni-h", &[(POOL_TAG, "h"), (OWNER_TAG, "pool-h")]);
        assert_eq!(owner(&[hand_tagged], &names(&["h"])), None);
    }

    fn held(count: u32, last_release: Option<Touch>) -> Claims {
        Claims {
            count,
            last_release,
        }
    }

    #[test]
    fn only_the_last_claim_deletes_the_pool() {
        let now = 10_000_000;
        assert_eq!(release(&held(3, None), Some("f"), now), Release::Keep(2));
        assert_eq!(release(&held(2, None), Some("f"), now), Release::Keep(1));
        assert_eq!(release(&held(1, None), Some("f"), now), Release::Delete);
        assert_eq!(release(&held(0, None), None, now), Release::Delete);
    }

    #[test]
    fn a_release_of_the_same_declaration_moments_after_the_last_is_a_repeat() {
        let window = REPEAT_WINDOW.as_millis() as i64;
        let now = 10_000_000;
        let released = touch(now - window + 1, Step::Released, "f");
        let recent = Some(released.clone());
        assert_eq!(
            release(&held(1, recent.clone()), Some("f"), now),
            Release::Repeat
        );
        assert_eq!(
            release(&held(2, recent.clone()), Some("f"), now),
            Release::Repeat
        );
        let long_ago = Some(touch(now - window, Step::Released, "f"));
        assert_eq!(release(&held(1, long_ago), Some("f"), now), Release::Delete);
        assert_eq!(
            release(&held(2, recent.clone()), Some("g"), now),
            Release::Keep(1)
        );
        assert_eq!(release(&held(1, recent), None, now), Release::Delete);
    }
}
