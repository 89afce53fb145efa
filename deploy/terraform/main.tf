# The museum's setup: an RDS PostgreSQL instance reachable only from one EC2 instance, which installs lmnh-pipes
# and runs the museum's pipeline (examples/lmnh/pipeline.yaml) as the systemd service lmnh-pipes@museum.
# The pipeline file, the schema, the catalogue and the unit are taken from this repository at plan time, so
# the instance runs the files of the commit the module was applied from.

provider "aws" {
  region = var.region
}

locals {
  repo     = "${path.module}/../.."
  examples = "${local.repo}/examples/lmnh"
  instance = "museum"

  tags = {
    Project = "lmnh-pipes"
    VPC     = var.VPC_NAME
  }

  # Every port of the bootstrap servers: the instance may open connections to them (hosted brokers have no
  # fixed addresses, so the destination is any IPv4 address).
  kafka_ports = toset([for s in split(",", var.BOOTSTRAP_SERVERS) : split(":", trimspace(s))[1]])

  # /etc/lmnh-pipes/museum.env: the museum's .env names. lmnh-pipes reads single-quoted values literally.
  museum_env = join("", [for k, v in {
    BOOTSTRAP_SERVERS = var.BOOTSTRAP_SERVERS
    SECURITY_PROTOCOL = var.SECURITY_PROTOCOL
    SASL_MECHANISM    = var.SASL_MECHANISM
    USERNAME          = var.USERNAME
    PASSWORD          = var.PASSWORD
    TOPIC             = var.TOPIC
    G_ID              = var.G_ID
    DB_HOST           = aws_db_instance.museum.address
    DB_PORT           = tostring(aws_db_instance.museum.port)
    DB_NAME           = var.DB_NAME
    DB_USERNAME       = var.DB_USERNAME
    DB_PASSWORD       = var.DB_PASSWORD
    CATALOGUE         = "/etc/lmnh-pipes/exhibitions"
  } : "${k}='${v}'\n"])

  exhibitions = {
    for f in fileset("${local.examples}/exhibitions", "lmnh_exhibition_*.json") :
    f => filebase64("${local.examples}/exhibitions/${f}")
  }

  # The first-boot script: installs lmnh-pipes and writes /etc/lmnh-pipes from this repository's files.
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    instance        = local.instance
    lmnh_pipes_spec = var.LMNH_PIPES_SPEC
    unit_b64        = filebase64("${path.module}/../systemd/lmnh-pipes@.service")
    pipeline_b64    = filebase64("${local.examples}/pipeline.yaml")
    catalogue_b64   = filebase64("${local.examples}/catalogue.yaml")
    schema_b64      = filebase64("${local.examples}/schema.sql")
    exhibitions     = local.exhibitions
    env_b64         = base64encode(local.museum_env)
    db_host         = aws_db_instance.museum.address
    db_port         = aws_db_instance.museum.port
    db_name         = var.DB_NAME
    db_username     = var.DB_USERNAME
    db_password_b64 = base64encode(var.DB_PASSWORD)
  })
}

# -- the database --

resource "aws_security_group" "database" {
  name        = var.SG_NAME
  description = "PostgreSQL of lmnh-pipes: port 5432 from the pipeline instance only"
  vpc_id      = var.VPC_ID
  tags        = merge(local.tags, { Name = var.SG_NAME })
}

resource "aws_vpc_security_group_ingress_rule" "database_from_pipeline" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the lmnh-pipes instance"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.pipeline.id
}

resource "aws_db_subnet_group" "museum" {
  name       = "${var.DB_ID}-subnets"
  subnet_ids = var.SUBNET_IDS
  tags       = merge(local.tags, { Name = "${var.DB_ID}-subnets" })
}

resource "aws_db_instance" "museum" {
  identifier                 = var.DB_ID
  engine                     = "postgres"
  engine_version             = "16"
  auto_minor_version_upgrade = true
  instance_class             = var.DB_INSTANCE_CLASS
  allocated_storage          = 20
  max_allocated_storage      = 100
  storage_type               = "gp3"
  storage_encrypted          = true
  db_name                    = var.DB_NAME
  username                   = var.DB_USERNAME
  password                   = var.DB_PASSWORD
  port                       = 5432
  db_subnet_group_name       = aws_db_subnet_group.museum.name
  vpc_security_group_ids     = [aws_security_group.database.id]
  publicly_accessible        = false
  backup_retention_period    = 7
  copy_tags_to_snapshot      = true
  skip_final_snapshot        = false
  final_snapshot_identifier  = "${var.DB_ID}-final"
  tags                       = merge(local.tags, { Name = var.DB_ID })
}

# -- the pipeline instance --

resource "aws_security_group" "pipeline" {
  name        = "${var.SG_NAME}-pipeline"
  description = "lmnh-pipes instance: out to Kafka, PostgreSQL and package mirrors"
  vpc_id      = var.VPC_ID
  tags        = merge(local.tags, { Name = "${var.SG_NAME}-pipeline" })
}

resource "aws_vpc_security_group_egress_rule" "pipeline_to_database" {
  security_group_id            = aws_security_group.pipeline.id
  description                  = "PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_vpc_security_group_egress_rule" "pipeline_to_kafka" {
  for_each          = local.kafka_ports
  security_group_id = aws_security_group.pipeline.id
  description       = "Kafka brokers"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
  cidr_ipv4         = "0.0.0.0/0"
}

# pip (PyPI, a git host), S3, and Debian's mirrors (plain HTTP, signed packages).
resource "aws_vpc_security_group_egress_rule" "pipeline_https" {
  security_group_id = aws_security_group.pipeline.id
  description       = "HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "pipeline_http" {
  security_group_id = aws_security_group.pipeline.id
  description       = "HTTP (Debian mirrors)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "pipeline_ssh" {
  for_each          = toset(var.SSH_CIDRS)
  security_group_id = aws_security_group.pipeline.id
  description       = "SSH"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = each.value
}

data "aws_ec2_instance_type" "pipeline" {
  instance_type = var.INSTANCE_TYPE
}

data "aws_ami" "debian" {
  most_recent = true
  owners      = ["136693071363"] # Debian's cloud team

  filter {
    name   = "name"
    values = [contains(data.aws_ec2_instance_type.pipeline.supported_architectures, "arm64") ? "debian-12-arm64-*" : "debian-12-amd64-*"]
  }
}

resource "aws_instance" "pipeline" {
  ami                    = data.aws_ami.debian.id
  instance_type          = var.INSTANCE_TYPE
  subnet_id              = var.SUBNET_IDS[0]
  vpc_security_group_ids = [aws_security_group.pipeline.id]
  key_name               = var.KEY_NAME

  # Gzipped (cloud-init unpacks it): with its embedded files the script would pass EC2's 16 KB limit.
  user_data_base64 = base64gzip(local.user_data)
  # user_data runs at the first boot only: a change (a new password, a new pipeline file) needs a new instance.
  user_data_replace_on_change = true

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }

  root_block_device {
    encrypted   = true
    volume_type = "gp3"
    volume_size = 16
  }

  tags = merge(local.tags, { Name = "${var.VPC_NAME}-lmnh-pipes" })

  lifecycle {
    # A newer Debian image must not replace a running pipeline on the next apply.
    ignore_changes = [ami]
  }
}
