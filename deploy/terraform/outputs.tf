output "db_host" {
  description = "The RDS endpoint's host name: DB_HOST in /etc/lmnh-pipes/museum.env."
  value       = aws_db_instance.museum.address
}

output "db_port" {
  description = "The RDS endpoint's port."
  value       = aws_db_instance.museum.port
}

output "db_security_group_id" {
  description = "The database's security group (5432 from the instance only)."
  value       = aws_security_group.database.id
}

output "instance_id" {
  description = "The pipeline instance."
  value       = aws_instance.pipeline.id
}

output "instance_private_ip" {
  description = "The pipeline instance's private address."
  value       = aws_instance.pipeline.private_ip
}

output "instance_public_ip" {
  description = "The pipeline instance's public address, if its subnet gives one."
  value       = aws_instance.pipeline.public_ip
}

output "instance_security_group_id" {
  description = "The instance's security group."
  value       = aws_security_group.pipeline.id
}

output "ami_id" {
  description = "The Debian 12 image the instance was started from."
  value       = aws_instance.pipeline.ami
}

output "watch" {
  description = "How to follow the pipeline on the instance."
  value       = "ssh admin@${coalesce(aws_instance.pipeline.public_ip, aws_instance.pipeline.private_ip)} sudo journalctl -u lmnh-pipes@${local.instance} -f"
}
