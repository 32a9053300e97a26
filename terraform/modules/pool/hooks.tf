locals {
  # The manager's lifecycle hooks for a group the pool serves, as
  # initial_lifecycle_hook blocks take them. Names that start with
  # network-interface-manager: the manager completes only such hooks, with
  # CONTINUE, once the instance holds its address (launch) or has handed it
  # over (terminate). CONTINUE: ABANDON would terminate and relaunch an
  # instance whose hook timed out. Two minutes, so that an instance serves
  # soon if the manager is down; ten at launch for a pool with volumes: the
  # manager records heartbeats while one invocation waits for a seat's
  # volume, and ten minutes outlast the gap to the next invocation (the sync
  # runs every five), so no instance goes in service without its data while
  # the volume still travels.
  lifecycle_hooks = [
    {
      name                 = "network-interface-manager-launch"
      lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"
      default_result       = "CONTINUE"
      heartbeat_timeout    = length(var.volumes) > 0 ? 600 : 120
    },
    {
      name                 = "network-interface-manager-terminate"
      lifecycle_transition = "autoscaling:EC2_INSTANCE_TERMINATING"
      default_result       = "CONTINUE"
      heartbeat_timeout    = 120
    },
  ]
}

output "lifecycle_hooks" {
  description = "The manager's launch and terminate hooks for a group of the pool's instances, each with the fields of an initial_lifecycle_hook block (declare them in the group, with a dynamic block: a separate aws_autoscaling_lifecycle_hook is made after the group, whose first instances would launch without it). The launch hook waits 10 minutes in a pool with volumes, else 2."
  value       = local.lifecycle_hooks
}
