"""The whole story, locally: moto plays EC2, the Lambda runs under cargo
lambda's runtime emulator exactly as deployed, a local listener plays
CloudFormation's response bucket. Each step checks what it claims; the
script exits non-zero when one does not hold.

Usage: demo.py --binary PATH [--cargo-lambda PATH] [--moto-server PATH]
"""
import argparse
import datetime
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import tempfile
import time
import urllib.parse
import urllib.request

import boto3

POOL = "bastion"
ENSEMBLE = "ensemble"
POOL_TAG = "network-interface-manager-pool"


class Failed(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, what, seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise Failed(f"{what} did not start on port {port}")


def step(text):
    print(f"\n==> {text}", flush=True)


def check(condition, claim):
    if not condition:
        raise Failed(claim)
    print(f"    ok: {claim}", flush=True)


class Answers(http.server.BaseHTTPRequestHandler):
    """Records CloudFormation answers (PUT bodies)."""

    received = []

    def do_PUT(self):
        length = int(self.headers.get("Content-Length", 0))
        Answers.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class AutoScalingStandIn(http.server.BaseHTTPRequestHandler):
    """In front of moto for the Lambda: moto has neither `Pending:Wait` nor
    CompleteLifecycleAction. Instances in `held` read as `Pending:Wait`
    until an action for them is completed; completions are recorded with
    who held the group's address then. Every other call goes to moto."""

    moto = None
    held = set()
    completed = []
    on_complete = None

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        form = urllib.parse.parse_qs(body.decode())
        action = form.get("Action", [""])[0]
        if action == "CompleteLifecycleAction":
            instance = form.get("InstanceId", [None])[0] or AutoScalingStandIn.held_by_token(form)
            AutoScalingStandIn.held.discard(instance)
            AutoScalingStandIn.completed.append(
                (instance, form["LifecycleHookName"][0], form["LifecycleActionResult"][0],
                 AutoScalingStandIn.on_complete()))
            return self.answer(200, b"<CompleteLifecycleActionResponse xmlns=\"http://autoscaling"
                               b".amazonaws.com/doc/2011-01-01/\"><CompleteLifecycleActionResult/>"
                               b"<ResponseMetadata><RequestId>stand-in</RequestId>"
                               b"</ResponseMetadata></CompleteLifecycleActionResponse>")
        request = urllib.request.Request(AutoScalingStandIn.moto + self.path, data=body,
                                         headers=dict(self.headers), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                status, answer = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, answer = e.code, e.read()
        if action == "DescribeAutoScalingInstances":
            answer = AutoScalingStandIn.waiting(answer.decode()).encode()
        self.answer(status, answer)

    @staticmethod
    def held_by_token(form):
        return form.get("LifecycleActionToken", [""])[0].removeprefix("token-")

    @staticmethod
    def waiting(xml):
        parts = xml.split("<member>")
        for n, part in enumerate(parts):
            if any(f"<InstanceId>{i}</InstanceId>" in part for i in AutoScalingStandIn.held):
                parts[n] = part.replace("<LifecycleState>InService</LifecycleState>",
                                        "<LifecycleState>Pending:Wait</LifecycleState>")
        return "<member>".join(parts)

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Demo:
    def __init__(self, args):
        self.args = args
        self.children = []
        self.moto_port, self.api_port = free_port(), free_port()
        self.endpoint = f"http://127.0.0.1:{self.moto_port}"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def start(self, command, env=None):
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.children.append(child)
        return child

    def stop(self):
        for child in reversed(self.children):
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()

    def boot(self):
        self.start([self.args.moto_server, "-H", "127.0.0.1", "-p", str(self.moto_port)])
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.response_url = f"http://127.0.0.1:{server.server_port}/answer?X-Amz-Signature=demo"
        AutoScalingStandIn.moto = self.endpoint
        stand_in = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AutoScalingStandIn)
        threading.Thread(target=stand_in.serve_forever, daemon=True).start()
        self.start([self.args.cargo_lambda, "lambda", "watch", "--only-lambda-apis",
                    "-A", "127.0.0.1", "-P", str(self.api_port)])
        wait_for_port(self.moto_port, "moto_server")
        wait_for_port(self.api_port, "the Lambda runtime emulator")
        lambda_env = dict(self.env,
                          AWS_ENDPOINT_URL=f"http://127.0.0.1:{stand_in.server_port}",
                          AWS_LAMBDA_RUNTIME_API=f"http://127.0.0.1:{self.api_port}/.rt",
                          AWS_LAMBDA_FUNCTION_NAME="_", AWS_LAMBDA_FUNCTION_VERSION="1",
                          AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128")
        self.start([self.args.binary], env=lambda_env)
        self.ec2 = boto3.client("ec2", endpoint_url=self.endpoint, region_name="us-east-1",
                                aws_access_key_id="demo", aws_secret_access_key="demo")
        self.asg = boto3.client("autoscaling", endpoint_url=self.endpoint,
                                region_name="us-east-1", aws_access_key_id="demo",
                                aws_secret_access_key="demo")

    def invoke(self, event):
        out = subprocess.run(
            [self.args.cargo_lambda, "lambda", "invoke", "-A", "127.0.0.1",
             "-P", str(self.api_port), "--data-ascii", json.dumps(event)],
            capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise Failed(f"invoke failed: {out.stderr.strip()}")
        return json.loads(out.stdout)

    def cli(self, *args):
        out = subprocess.run([self.args.binary, *args], env=self.env,
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise Failed(f"{' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def show(self, *args):
        print("    $ network-interface-manager " + " ".join(args))
        for line in self.cli(*args).rstrip().splitlines():
            print("      " + line)

    def metrics_of_sync(self):
        """Runs `sync --metrics FILE`, prints its EMF documents in short and
        returns the gauges by (pool, AZ)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "metrics.jsonl")
            print(f"    $ network-interface-manager sync --metrics {os.path.basename(path)}")
            self.cli("sync", "--metrics", path)
            with open(path) as f:
                docs = [json.loads(line) for line in f]
        gauges = {}
        print("      (CloudWatch EMF: one JSON document a line, shown here in short)")
        for doc in docs:
            directive = doc["_aws"]["CloudWatchMetrics"][0]
            dims = directive["Dimensions"][0]
            where = " ".join(f"{k}={doc[k]}" for k in dims) or "account"
            values = {m["Name"]: doc[m["Name"]] for m in directive["Metrics"]}
            print(f"      {where}: " + " ".join(f"{k}={v}" for k, v in values.items()))
            if dims == ["Pool", "AvailabilityZone"]:
                gauges[(doc["Pool"], doc["AvailabilityZone"])] = values
        return gauges

    def public_ip_of(self, ip):
        found = self.ec2.describe_network_interfaces(
            Filters=[{"Name": "addresses.private-ip-address", "Values": [ip]}])
        return found["NetworkInterfaces"][0].get("Association", {}).get("PublicIp")

    def identity_of(self, instance):
        """The identity tags the manager put on an instance (R26)."""
        found = self.ec2.describe_instances(InstanceIds=[instance])
        tags = {t["Key"]: t["Value"]
                for t in found["Reservations"][0]["Instances"][0].get("Tags", [])}
        return (tags.get("network-interface-manager-ordinal"),
                tags.get("network-interface-manager-address"))

    def holder_of(self, ip):
        found = self.ec2.describe_network_interfaces(
            Filters=[{"Name": "addresses.private-ip-address", "Values": [ip]}])
        attachment = found["NetworkInterfaces"][0].get("Attachment")
        return attachment["InstanceId"] if attachment else None

    def launch(self, subnet, pool=POOL):
        image = self.ec2.describe_images()["Images"][0]["ImageId"]
        run = self.ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet,
            TagSpecifications=[{"ResourceType": "instance",
                                "Tags": [{"Key": POOL_TAG, "Value": pool}]}])
        return run["Instances"][0]["InstanceId"]

    def volumes_on(self, instance):
        """The volumes attached to an instance beside its root volume."""
        found = self.ec2.describe_volumes(
            Filters=[{"Name": "attachment.instance-id", "Values": [instance]},
                     {"Name": "tag-key", "Values": ["network-interface-manager-device"]}])
        return sorted(v["VolumeId"] for v in found["Volumes"])


def now():
    """EventBridge's time: UTC, whole seconds."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def state_event(instance, state):
    return {
        "version": "0", "id": f"demo-{instance}-{state}",
        "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
        "account": "123456789012", "time": now(), "region": "us-east-1",
        "resources": [f"arn:aws:ec2:us-east-1:123456789012:instance/{instance}"],
        "detail": {"instance-id": instance, "state": state},
    }


def launch_action(group, hook, instance):
    """The documented launch lifecycle action event [ASG-EV]."""
    return {
        "version": "0", "id": f"demo-{instance}-launch",
        "detail-type": "EC2 Instance-launch Lifecycle Action", "source": "aws.autoscaling",
        "account": "123456789012", "time": now(), "region": "us-east-1",
        "resources": [f"arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1:"
                      f"autoScalingGroupName/{group}"],
        "detail": {"LifecycleActionToken": f"token-{instance}", "AutoScalingGroupName": group,
                   "LifecycleHookName": hook, "EC2InstanceId": instance,
                   "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                   "Origin": "EC2", "Destination": "AutoScalingGroup"},
    }


def auto_scaling_group(d, subnet):
    """A group of the pool in `subnet` with our launch hook; no instance yet."""
    image = d.ec2.describe_images()["Images"][0]["ImageId"]
    template = d.ec2.create_launch_template(
        LaunchTemplateName="bastion", LaunchTemplateData={"ImageId": image,
                                                          "InstanceType": "t3.micro"})
    d.asg.create_auto_scaling_group(
        AutoScalingGroupName="bastion", MinSize=0, MaxSize=2, DesiredCapacity=0,
        VPCZoneIdentifier=subnet,
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplate"]["LaunchTemplateId"]},
        Tags=[{"Key": POOL_TAG, "Value": POOL, "PropagateAtLaunch": True}])
    d.asg.put_lifecycle_hook(
        AutoScalingGroupName="bastion", LifecycleHookName="network-interface-manager-launch",
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING", DefaultResult="CONTINUE",
        HeartbeatTimeout=120)


def pool_request(kind, url, subnets, physical_id=None):
    request = {
        "RequestType": kind, "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/1",
        "RequestId": f"demo-{kind}", "ResourceType": "Custom::NetworkInterfacePool",
        "LogicalResourceId": "BastionPool",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:nim",
                               "Name": POOL, "SubnetIds": subnets,
                               "PrivateIpAddresses": ["10.0.1.10", "10.0.2.10"],
                               "PublicIp": "true",
                               "Description": "bastion fixed address"},
    }
    if physical_id:
        request["PhysicalResourceId"] = physical_id
    return request


def ensemble_request(kind, url, subnet, physical_id=None):
    """Three seats in one subnet, each with a 1 GiB data volume (C16, C17)."""
    request = pool_request(kind, url, [subnet], physical_id)
    request["LogicalResourceId"] = "Ensemble"
    request["ResourceProperties"] = {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:nim",
        "Name": ENSEMBLE, "SubnetIds": [subnet],
        "PrivateIpAddresses": ["10.0.1.21", "10.0.1.22", "10.0.1.23"],
        "Volumes": [{"SizeGiB": "1", "DeviceName": "/dev/sdf"}],
    }
    return request


def ensemble(d, subnet):
    step("7. a three-node ensemble: each seat a number, an address and a data volume; "
         "node 2 is replaced and its successor gets all three")
    d.invoke(ensemble_request("Create", d.response_url, subnet))
    answer = Answers.received[-1]
    print(f"    answer: {answer['Status']} {json.dumps(answer.get('Data'))}")
    check(answer["Status"] == "SUCCESS" and answer["Data"]["Ordinals"] == ["1", "2", "3"],
          "the pool made seats 1, 2 and 3")
    physical_id = answer["PhysicalResourceId"]
    nodes = [d.launch(subnet, ENSEMBLE) for _ in range(3)]
    for node in nodes:
        d.invoke(state_event(node, "running"))
    d.show("status", "--pool", ENSEMBLE)
    seats = {d.identity_of(node)[0]: node for node in nodes}
    check(sorted(seats) == ["1", "2", "3"], "each node took one seat")
    second = seats["2"]
    volume = d.volumes_on(second)
    check(len(volume) == 1, f"{second} (seat 2) holds its seat's volume {volume}")
    d.ec2.terminate_instances(InstanceIds=[second])
    print(f"    {second} terminates (EC2 detaches its volume; the manager never does from a "
          "running OS)")
    d.invoke(state_event(second, "terminated"))
    successor = d.launch(subnet, ENSEMBLE)
    handled = d.invoke(state_event(successor, "running"))
    print(f"    {successor} running: EC2 calls {sorted(handled['ec2_calls'].items())}")
    check(d.identity_of(successor) == ("2", "10.0.1.22"),
          f"{successor} took seat 2: the same number and address")
    check(d.volumes_on(successor) == volume, f"and the same data volume {volume[0]}")
    d.show("status", "--pool", ENSEMBLE)

    d.invoke(ensemble_request("Delete", d.response_url, subnet, physical_id))
    answer = Answers.received[-1]
    print(f"    Delete: {answer['Status']}; Reason: {answer.get('Reason')}")
    kept = d.ec2.describe_volumes(VolumeIds=volume)["Volumes"][0]
    tags = {t["Key"]: t["Value"] for t in kept.get("Tags", [])}
    check(answer["Status"] == "SUCCESS" and volume[0] in answer.get("Reason", ""),
          "the Delete succeeded and named the volumes it kept")
    check("network-interface-manager-released" in tags and POOL_TAG not in tags,
          f"{volume[0]} is kept, out of the pool, tagged released (the data outlives the pool)")


def story(d):
    step("1. a VPC with two subnets in two Availability Zones (moto plays EC2)")
    vpc = d.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_a = d.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24",
                                   AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    subnet_b = d.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24",
                                   AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    print(f"    {vpc}: {subnet_a} (us-east-1a), {subnet_b} (us-east-1b)")

    step("2. CloudFormation creates Custom::NetworkInterfacePool with 10.0.1.10 and 10.0.2.10, "
         "each with a public address (PublicIp)")
    d.invoke(pool_request("Create", d.response_url, [subnet_a, subnet_b]))
    answer = Answers.received[-1]
    print(f"    answer: {answer['Status']} {answer['PhysicalResourceId']} "
          f"{json.dumps(answer.get('Data'))}")
    check(answer["Status"] == "SUCCESS", "CloudFormation got SUCCESS")
    check(answer["Data"]["PrivateIpAddresses"] == ["10.0.1.10", "10.0.2.10"],
          "the pool holds both fixed addresses")
    public_a = answer["Data"]["PublicIpAddresses"][0]
    check(d.public_ip_of("10.0.1.10") == public_a, f"10.0.1.10 has the public address {public_a}")
    physical_id = answer["PhysicalResourceId"]

    step("3. two pool instances start, one per AZ; their `running` events reach the Lambda")
    first_a, first_b = d.launch(subnet_a), d.launch(subnet_b)
    for instance in (first_a, first_b):
        d.invoke(state_event(instance, "running"))
    d.show("status")
    check(d.holder_of("10.0.1.10") == first_a, f"10.0.1.10 is on {first_a}")
    check(d.holder_of("10.0.2.10") == first_b, f"10.0.2.10 is on {first_b}")
    check(answer["Data"]["Ordinals"] == ["1", "2"], "the members are seats 1 and 2 (Ordinals)")
    check(d.identity_of(first_a) == ("1", "10.0.1.10"),
          f"{first_a} carries its seat's number and address as tags (instance metadata)")

    step("4. the instance in us-east-1a is replaced: the replacement starts, the old one terminates")
    replacement = d.launch(subnet_a)
    waited = d.invoke(state_event(replacement, "running"))
    check(bool(waited["shortages"]), f"{replacement} waits while the old instance holds the address")
    d.ec2.terminate_instances(InstanceIds=[first_a])
    handed_over = d.invoke(state_event(first_a, "terminated"))
    check(d.holder_of("10.0.1.10") == replacement, f"10.0.1.10 moved to {replacement}")
    check(d.identity_of(replacement) == ("1", "10.0.1.10"),
          f"{replacement} took seat 1: the same number and address")
    check(d.public_ip_of("10.0.1.10") == public_a,
          f"and with it the public address {public_a}, with no Elastic IP call: "
          f"{sorted(handed_over['ec2_calls'])}")
    check(not any("Address" in call for call in handed_over["ec2_calls"]),
          "the handover made no Elastic IP call")

    step("5. the instance in us-east-1b stops, and its event is lost; the schedule repairs it")
    d.ec2.stop_instances(InstanceIds=[first_b])
    d.show("sync", "--dry-run")
    check(d.holder_of("10.0.2.10") == first_b, "the dry run changed nothing")
    d.invoke({"version": "0", "id": "demo-schedule", "detail-type": "Scheduled Event",
              "source": "aws.events", "account": "123456789012",
              "time": now(), "region": "us-east-1",
              "resources": ["arn:aws:events:us-east-1:123456789012:rule/schedule"], "detail": {}})
    d.show("status")
    check(d.holder_of("10.0.2.10") is None, "10.0.2.10 was taken back from the stopped instance")
    gauges = d.metrics_of_sync()
    free_b = gauges.get((POOL, "us-east-1b"), {}).get("FreeMembers")
    check(free_b == 1, "the sync's metrics count the member free again in us-east-1b")

    step("6. an Auto Scaling group with a launch hook: its new instance waits in Pending:Wait "
         "until its address is attached")
    print("    (moto has neither Pending:Wait nor CompleteLifecycleAction: a small local stand-in\n"
          "     in front of moto answers both for the Lambda; everything else is moto's)")
    auto_scaling_group(d, subnet_b)
    d.asg.set_desired_capacity(AutoScalingGroupName="bastion", DesiredCapacity=1)
    group_instance = d.asg.describe_auto_scaling_instances()["AutoScalingInstances"][0]
    new = group_instance["InstanceId"]
    AutoScalingStandIn.held.add(new)
    AutoScalingStandIn.on_complete = lambda: d.holder_of("10.0.2.10")
    print(f"    the group launched {new}; it waits in Pending:Wait "
          "(hook network-interface-manager-launch)")
    handled = d.invoke(launch_action("bastion", "network-interface-manager-launch", new))
    print(f"    attached: {[(a['interface_id'], a['instance_id']) for a in handled['attached']]}")
    for instance, hook, result, holder in AutoScalingStandIn.completed:
        print(f"    stand-in: CompleteLifecycleAction {result} for {instance} ({hook}); "
              f"10.0.2.10 was on {holder} then")
    check(AutoScalingStandIn.completed == [(new, "network-interface-manager-launch", "CONTINUE",
                                            new)],
          f"the launch went on (CONTINUE) once, with 10.0.2.10 already on {new}")
    check(new not in AutoScalingStandIn.held, f"{new} goes in service with its address")

    ensemble(d, subnet_a)

    step("8. CloudFormation deletes the bastion pool")
    d.invoke(pool_request("Delete", d.response_url, [subnet_a, subnet_b], physical_id))
    answer = Answers.received[-1]
    print(f"    answer: {answer['Status']} {answer['PhysicalResourceId']}")
    check(answer["Status"] == "SUCCESS", "CloudFormation got SUCCESS")
    left = d.ec2.describe_network_interfaces(
        Filters=[{"Name": "tag-key", "Values": [POOL_TAG]}])["NetworkInterfaces"]
    check(not left, "no pool interface is left")
    check(not d.ec2.describe_addresses()["Addresses"], "and its public addresses are released")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    venv_bin = os.path.join(os.path.dirname(sys.executable))
    parser.add_argument("--binary", required=True)
    parser.add_argument("--cargo-lambda", default=os.path.join(venv_bin, "cargo-lambda"))
    parser.add_argument("--moto-server", default=os.path.join(venv_bin, "moto_server"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    started = time.time()
    demo = Demo(args)
    try:
        demo.boot()
        story(demo)
    except Failed as failure:
        print(f"\nDEMO FAILED: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        demo.stop()
    print(f"\nThe demo passed in {time.time() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
