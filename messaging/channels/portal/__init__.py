"""The client portal channel (setting 620): the message goes to the client's secure portal inbox."""
