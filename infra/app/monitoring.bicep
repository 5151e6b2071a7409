// Log Analytics and Application Insights, and the alerts an operator needs: messages moved to
// a poison queue, failed runs, and runs stalled past their threshold.
param workspaceName string
param insightsName string
param actionGroupName string
param alertPrefix string
param location string
param tags object
param alertEmail string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: insightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'pcpublisher'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var alerts = [
  {
    name: 'poison'
    description: 'A message reached a poison queue (the host moved it after maxDequeueCount).'
    severity: 1
    query: 'union traces, exceptions | where message has "Moving message to queue" or message has "dead-lettered"'
  }
  {
    name: 'run-failed'
    description: 'A publish run failed; the reason is in the run record (pcpub status).'
    severity: 2
    query: 'traces | where message startswith "run failed"'
  }
  {
    name: 'run-stalled'
    description: 'A publish run made no progress past its threshold.'
    severity: 2
    query: 'traces | where message startswith "run stalled"'
  }
  {
    name: 'credentials-failing'
    description: 'The app cannot get its Partner Center credentials (the message names the cause); runs wait.'
    severity: 1
    query: 'traces | where message startswith "credentials failing"'
  }
  {
    name: 'run-lost'
    description: 'A stage message named a run the ledger does not have (its row was lost).'
    severity: 1
    query: 'traces | where message startswith "the ledger has no record of run"'
  }
]

resource rules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for alert in alerts: {
  name: '${alertPrefix}-${alert.name}'
  location: location
  tags: tags
  properties: {
    description: alert.description
    severity: alert.severity
    enabled: true
    scopes: [
      insights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: alert.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

output connectionString string = insights.properties.ConnectionString
output insightsName string = insights.name
