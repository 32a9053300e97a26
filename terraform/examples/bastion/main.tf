# The bastion of cloudformation/demo-stack.yaml: an Auto Scaling group whose
# instance keeps a fixed private address in each Availability Zone.

module "manager" {
  source = "../../modules/manager"

  code_bucket = var.code_bucket
}

resource "aws_security_group" "bastion" {
  name_prefix = "${var.name}-"
  description = var.name
  vpc_id      = var.vpc_id

  ingress {
    description = "SSH from inside the VPC"
    protocol    = "tcp"
    from_port   = 22
    to_port     = 22
    cidr_blocks = ["10.0.0.0/8"]
  }

  # Terraform removes the default egress rule that CloudFormation keeps.
  egress {
    description = "Anything out, as EC2's default"
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }
}

module "pool" {
  source = "../../modules/pool"

  service_token        = module.manager.service_token
  name                 = var.name
  subnet_ids           = var.subnet_ids
  private_ip_addresses = var.private_ip_addresses
  security_group_ids   = [aws_security_group.bastion.id]
  description          = "${var.name} fixed address"
  tags                 = { Pool = var.name }
}

data "aws_ssm_parameter" "image" {
  name = var.image_parameter
}

resource "aws_launch_template" "bastion" {
  name_prefix            = "${var.name}-"
  image_id               = data.aws_ssm_parameter.image.value
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.bastion.id]

  metadata_options {
    http_tokens = "required"
  }
}

resource "aws_autoscaling_group" "bastion" {
  name_prefix         = "${var.name}-"
  min_size            = 1
  max_size            = 2
  desired_capacity    = 1
  vpc_zone_identifier = var.subnet_ids

  launch_template {
    id      = aws_launch_template.bastion.id
    version = aws_launch_template.bastion.latest_version
  }

  # In the group, not as aws_autoscaling_lifecycle_hook resources: those are
  # created after the group, so its first instances would launch without
  # them. The pool module says which hooks and how long they wait.
  dynamic "initial_lifecycle_hook" {
    for_each = module.pool.lifecycle_hooks
    content {
      name                 = initial_lifecycle_hook.value.name
      lifecycle_transition = initial_lifecycle_hook.value.lifecycle_transition
      default_result       = initial_lifecycle_hook.value.default_result
      heartbeat_timeout    = initial_lifecycle_hook.value.heartbeat_timeout
    }
  }

  # The pool tag on the group lets the manager complete its hooks (its role
  # may complete actions only on groups with this tag), and on the instances
  # makes them pool instances. Taken from the pool's result, so the group
  # launches only once the pool exists.
  tag {
    key                 = "network-interface-manager-pool"
    value               = module.pool.name
    propagate_at_launch = true
  }
}
