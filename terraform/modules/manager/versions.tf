terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # From 5.8 on, aws_ssm_parameter has insecure_value (hashicorp/terraform-provider-aws#30817): the service token is no secret.
      version = ">= 5.8"
    }
  }
}
