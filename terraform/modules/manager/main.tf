resource "aws_s3_object" "bootstrap" {
  count = local.upload_code ? 1 : 0

  bucket = var.code_bucket
  key    = local.code_key
  source = local.bootstrap_zip
  tags   = var.tags

  lifecycle {
    precondition {
      condition     = fileexists(local.bootstrap_zip)
      error_message = "${local.bootstrap_zip} does not exist: build it with `make zip`, or set bootstrap_zip or code_key."
    }
  }
}

resource "aws_cloudformation_stack" "manager" {
  name          = var.stack_name
  template_body = local.template_body
  capabilities  = ["CAPABILITY_IAM"]
  parameters    = merge(var.extra_parameters, local.template_parameters)
  tags          = var.tags

  # The code must be in S3 before CloudFormation creates the function.
  depends_on = [aws_s3_object.bootstrap]

  lifecycle {
    precondition {
      condition     = local.template_code_line_count == 1
      error_message = "The template has ${local.template_code_line_count} lines \"${local.template_code_line}\", not 1: this module no longer knows where to put the code's S3 location."
    }
    precondition {
      condition     = length(setintersection(keys(var.extra_parameters), keys(local.template_parameters))) == 0
      error_message = "extra_parameters may not set ${join(", ", setintersection(keys(var.extra_parameters), keys(local.template_parameters)))}: use the module's variables for them."
    }
  }
}
