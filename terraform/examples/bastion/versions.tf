terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.82"
    }
  }
}

# Region and credentials come from the environment (AWS_REGION, AWS_PROFILE, ...).
provider "aws" {}
