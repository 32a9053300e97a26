# The stack is cloudformation/network-interface-manager.yaml itself, so that
# this module cannot drift from it. Its Function's Code is a local path meant
# for `aws cloudformation package`; this module uploads the zip and points
# that one line at S3 instead.

locals {
  template = file("${path.module}/../../../cloudformation/network-interface-manager.yaml")

  template_code_line       = "Code: ../dist/bootstrap.zip"
  template_code_line_count = length(split(local.template_code_line, local.template)) - 1

  bootstrap_zip = coalesce(var.bootstrap_zip, "${path.module}/../../../dist/bootstrap.zip")
  upload_code   = var.code_key == null
  # The zip's hash in the key: a new build is a new template, so CloudFormation updates the function.
  code_key = local.upload_code ? "${var.code_key_prefix}bootstrap-${fileexists(local.bootstrap_zip) ? filesha256(local.bootstrap_zip) : "missing"}.zip" : var.code_key

  code_location = merge(
    { S3Bucket = var.code_bucket, S3Key = local.code_key },
    var.code_object_version == null ? {} : { S3ObjectVersion = var.code_object_version },
  )
  # JSON is YAML: a flow mapping on the same line keeps the template's indentation intact.
  template_body = replace(local.template, local.template_code_line, "Code: ${jsonencode(local.code_location)}")

  # One entry per Parameter of the template; CloudFormation takes them as strings.
  template_parameters = {
    Architecture              = var.architecture
    LogRetentionInDays        = tostring(var.log_retention_in_days)
    ReservedConcurrency       = tostring(var.reserved_concurrency)
    MetricsNamespace          = var.metrics_namespace
    AlarmTopicArn             = var.alarm_topic_arn
    StandbyHoldsMember        = tostring(var.standby_holds_member)
    Ec2Share                  = var.ec2_share
    ServiceTokenParameterName = var.service_token_parameter_name
    Dashboard                 = tostring(var.dashboard)
    VolumeKmsKeyArns          = join(",", var.volume_kms_key_arns)
  }
}
