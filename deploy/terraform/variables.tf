# The names are the ones the museum's team already uses in its .env and terraform.tfvars.

variable "region" {
  description = "AWS region of the VPC, the database and the instance."
  type        = string
  default     = "eu-west-2"
}

# -- the database --

variable "DB_ID" {
  description = "Identifier of the RDS instance (lower-case letters, digits and hyphens)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.DB_ID)) && !can(regex("--|-$", var.DB_ID))
    error_message = "DB_ID: a lower-case letter, then up to 62 lower-case letters, digits or single hyphens, not ending with one."
  }
}

variable "DB_NAME" {
  description = "Name of the database the pipeline writes to (created with the instance)."
  type        = string
  default     = "museum"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,62}$", var.DB_NAME))
    error_message = "DB_NAME: a letter, then letters, digits or underscores (63 at most)."
  }
}

variable "DB_USERNAME" {
  description = "Master user name of the RDS instance; the pipeline connects as this user."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,62}$", var.DB_USERNAME))
    error_message = "DB_USERNAME: a letter, then letters, digits or underscores (63 at most)."
  }
}

variable "DB_PASSWORD" {
  description = "Master password of the RDS instance."
  type        = string
  sensitive   = true

  validation {
    # RDS refuses / ' " @ and spaces in a master password.
    condition     = length(var.DB_PASSWORD) >= 8 && length(var.DB_PASSWORD) <= 128 && can(regex("^[!-~]+$", var.DB_PASSWORD)) && !can(regex("[/'\"@]", var.DB_PASSWORD))
    error_message = "DB_PASSWORD: 8 to 128 printable ASCII characters other than / ' \" @ and space (RDS's rule)."
  }
}

variable "DB_INSTANCE_CLASS" {
  description = "RDS instance class."
  type        = string
  default     = "db.t3.micro"
}

# -- the network --

variable "VPC_ID" {
  description = "The VPC that holds the database and the instance."
  type        = string
}

variable "VPC_NAME" {
  description = "The VPC's name, used in the Name tags of what this module creates."
  type        = string
}

variable "SUBNET_IDS" {
  description = "Subnets of VPC_ID in at least two availability zones: the database's subnet group. The instance goes into the first, which must reach the internet (public IP or NAT) for packages and Kafka."
  type        = list(string)

  validation {
    condition     = length(var.SUBNET_IDS) >= 2
    error_message = "SUBNET_IDS: RDS needs subnets in at least two availability zones."
  }
}

variable "SG_NAME" {
  description = "Name of the database's security group; the instance's is named SG_NAME-pipeline."
  type        = string
}

variable "SSH_CIDRS" {
  description = "Networks allowed to reach the instance on port 22 (none by default)."
  type        = list(string)
  default     = []
}

# -- the instance --

variable "INSTANCE_TYPE" {
  description = "EC2 instance type (x86_64 or arm64: the Debian 12 image is chosen to match)."
  type        = string
  default     = "t3.small"
}

variable "KEY_NAME" {
  description = "EC2 key pair for SSH, or null for none."
  type        = string
  default     = null
}

variable "LMNH_PIPES_SPEC" {
  description = "What pip installs on the instance: a requirement (\"lmnh-pipes==0.1.0\") or a VCS URL (\"git+https://github.com/ORG/lmnh-pipes.git@v0.1.0\")."
  type        = string

  validation {
    condition     = length(trimspace(var.LMNH_PIPES_SPEC)) > 0 && !can(regex("['\r\n]", var.LMNH_PIPES_SPEC))
    error_message = "LMNH_PIPES_SPEC: one line without single quotes."
  }
}

# -- Kafka --

variable "BOOTSTRAP_SERVERS" {
  description = "The Kafka cluster's bootstrap servers, host:port,host:port."
  type        = string

  validation {
    condition     = alltrue([for s in split(",", var.BOOTSTRAP_SERVERS) : can(regex("^[A-Za-z0-9.-]+:[0-9]+$", trimspace(s)))])
    error_message = "BOOTSTRAP_SERVERS: host:port pairs separated by commas."
  }
}

variable "SECURITY_PROTOCOL" {
  description = "Kafka security protocol."
  type        = string
  default     = "SASL_SSL"

  validation {
    condition     = contains(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"], var.SECURITY_PROTOCOL)
    error_message = "SECURITY_PROTOCOL: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
  }
}

variable "SASL_MECHANISM" {
  description = "Kafka SASL mechanism."
  type        = string
  default     = "PLAIN"

  validation {
    condition     = contains(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"], var.SASL_MECHANISM)
    error_message = "SASL_MECHANISM: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."
  }
}

variable "USERNAME" {
  description = "Kafka SASL user name (an API key on a hosted cluster)."
  type        = string
  sensitive   = true

  validation {
    condition     = !can(regex("[\r\n]", var.USERNAME))
    error_message = "USERNAME: one line."
  }
}

variable "PASSWORD" {
  description = "Kafka SASL password (an API secret on a hosted cluster)."
  type        = string
  sensitive   = true

  validation {
    condition     = !can(regex("[\r\n]", var.PASSWORD))
    error_message = "PASSWORD: one line."
  }
}

variable "TOPIC" {
  description = "The kiosks' topic."
  type        = string
  default     = "lmnh"
}

variable "G_ID" {
  description = "Kafka consumer group id of the pipeline."
  type        = string
}
