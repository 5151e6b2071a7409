// Log Analytics and Application Insights, the alerts an operator needs (dead letters, failed,
// stalled and lost runs, incidents, failing credentials, approvals waiting), and a workbook.
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

// Alerts read the app's metrics and log dimensions (shared/observability), never message
// text. Metrics and logs are never sampled, so a failure always reaches its alert.
var alerts = [
  {
    name: 'poison'
    description: 'A message was dead-lettered (a poison queue, or an unreadable stage message); pcpub poison list.'
    severity: 1
    query: 'customMetrics | where name == "pcpub.messages.poisoned" and valueSum > 0'
    window: 'PT5M'
  }
  {
    name: 'run-failed'
    description: 'A publish run failed; the reason is in the run record (pcpub status).'
    severity: 2
    query: 'customMetrics | where name == "pcpub.runs.ended" and tostring(customDimensions.outcome) == "failed" and valueSum > 0'
    window: 'PT5M'
  }
  {
    name: 'run-stalled'
    description: 'A publish run made no progress past its threshold and was re-driven.'
    severity: 2
    query: 'customMetrics | where name == "pcpub.runs.stalled" and valueSum > 0'
    window: 'PT5M'
  }
  {
    name: 'incident-open'
    description: 'Partner Center answered like an incident; every run is held until it passes (pcpub status).'
    severity: 1
    query: 'customMetrics | where name == "pcpub.incidents.opened" and valueSum > 0'
    window: 'PT5M'
  }
  {
    name: 'run-troubled'
    description: 'A stage has been retried past PC_TROUBLE_SECONDS (an endpoint failing, an answer of another shape); the event names why (pcpub status).'
    severity: 2
    query: 'traces | where tostring(customDimensions.action) == "event" and tostring(customDimensions.kind) == "troubled"'
    window: 'PT1H'
  }
  {
    name: 'credentials-failing'
    description: 'The app cannot get its Partner Center credentials (the record names the cause); runs wait.'
    severity: 1
    query: 'traces | where tostring(customDimensions.action) == "credentials_failing"'
    window: 'PT5M'
  }
  {
    name: 'run-lost'
    description: 'A run the ledger does not have was found (its row was lost); it is reported failed.'
    severity: 1
    query: 'traces | where tostring(customDimensions.action) == "unknown_run"'
    window: 'PT5M'
  }
  {
    // A reminder is announced every PC_APPROVAL_REMIND_SECONDS (a day) while a go-live waits:
    // two announcements of one run in the window mean it has waited longer than that.
    name: 'approval-waiting'
    description: 'A go-live has waited for approval longer than the reminder interval (pcpub approve).'
    severity: 3
    query: 'traces | where tostring(customDimensions.action) == "event" and tostring(customDimensions.kind) == "approval-waiting" | summarize announced = count() by requestId = tostring(customDimensions.requestId) | where announced > 1'
    window: 'P2D'
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
    evaluationFrequency: alert.window == 'PT5M' ? 'PT5M' : 'PT1H'
    windowSize: alert.window
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

// Runs by state and offer, the stage funnel, certification waits, Partner Center's health,
// dead letters, and one run's timeline by request id (workbook.json).
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(insights.id, 'pc-publisher-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'pc-publisher runs'
    category: 'workbook'
    sourceId: insights.id
    serializedData: loadTextContent('workbook.json')
  }
}

output connectionString string = insights.properties.ConnectionString
output insightsName string = insights.name
